"""Export a ViTPose config + checkpoint to ONNX and check it against torch with onnxruntime (docs/deploy.md).

    python tools/export_onnx.py CONFIG CHECKPOINT OUT.onnx [--fp16] [--dataset NAME] [--batch 2] [--no-verify]
    python tools/export_onnx.py configs/vitpose_plus/td-hm_ViTPose-plus-base_8xb128-210e_6datasets-256x192.py \
        vitpose_plus_base.pth ap10k.onnx --dataset ap10k

The graph: float32 normalized crops (N, 3, H, W), N dynamic -> float32 heatmaps (N, K, H/4, W/4). No flip test and
no decoding inside (a runtime does both: vitpose_mm.deploy.OnnxPoseModel). The keypoint names, flip indices, input
size, mean/std, codec and test pipeline go into the file's metadata (key ``vitpose_mm``, JSON). Exit status: 0 done,
1 bad input or failed export (nothing written), 2 the parity check failed (the file stays, for inspection).
"""
import argparse
import logging
import os.path as osp
import sys
import time

from mmengine.config import DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export a top-down ViTPose (config + checkpoint) to ONNX with a dynamic batch axis, then check '
        'it against the torch model with onnxruntime.')
    parser.add_argument('config', help='config file, or a config file name from the package configs/ (a '
                        'multi-dataset ViTPose+ config needs --dataset)')
    parser.add_argument('checkpoint', help='checkpoint (any layout the package loads: docs/checkpoints.md); "none" '
                        'exports random weights (for trying the tool)')
    parser.add_argument('out', help='where to write the .onnx file')
    parser.add_argument('--dataset', help='ViTPose+: the dataset whose expert is folded in and whose head is kept '
                        '(coco, aic, mpii, ap10k, apt36k, coco_wholebody ...; with a plain config and an official '
                        'ViTPose+ file: coco, aic, mpii, ap10k, apt36k, wholebody)')
    parser.add_argument('--fp16', action='store_true', help='float16 weights and compute (for CUDA execution '
                        'providers); input and output stay float32')
    parser.add_argument('--batch', type=int, default=2, help='example batch traced at export (>= 2; any batch runs)')
    parser.add_argument('--opset', type=int, help='ONNX opset (default: the exporter\'s)')
    parser.add_argument('--no-verify', dest='verify', action='store_false',
                        help='skip the onnxruntime parity check (on by default)')
    parser.add_argument('--verify-batch', type=int, default=4, help='random crops in the parity check')
    parser.add_argument('--providers', nargs='+', default=['CPUExecutionProvider'],
                        help='onnxruntime execution providers of the parity check')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries, e.g. model.backbone.depth=2')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmengine.logging import MMLogger

    import vitpose_mm  # noqa: F401  (registers the modules, allows mmengine checkpoints under weights_only)
    from vitpose_mm.checkpoints import CheckpointMismatchError
    from vitpose_mm.deploy import build_export_source, check_parity, export_metadata, export_onnx
    logger = MMLogger.get_instance('export_onnx', log_level=logging.INFO)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    precision = 'fp16' if args.fp16 else 'fp32'
    try:
        if args.batch < 2:
            raise ValueError(f'--batch must be >= 2 (a traced batch of 1 may be specialised), got {args.batch}')
        if args.verify:  # a provider this onnxruntime lacks is bad input: say so before the slow export
            import onnxruntime as ort
            missing = [p for p in args.providers if p not in ort.get_available_providers()]
            if missing:
                raise ValueError(f'--providers: {missing} not available in this onnxruntime {ort.__version__}; '
                                 f'available: {ort.get_available_providers()}')
        start = time.time()
        logger.info(f'building {args.config} and loading {checkpoint or "random weights"} ...')
        source = build_export_source(args.config, checkpoint, args.dataset, args.cfg_options)
        for note in source.notes:
            logger.info(f'  {note}')
        w, h = source.input_size
        logger.info(f'exporting ({precision}, input (N, 3, {h}, {w}), {source.dataset_meta["num_keypoints"]} '
                    f'keypoints of {source.dataset_meta.get("dataset_name")}) ...')
        meta = export_metadata(source, precision, args.config, checkpoint)
        export_onnx(source, args.out, precision, args.batch, meta, args.opset)
        logger.info(f'wrote {args.out} ({osp.getsize(args.out) / 2**20:.1f} MiB) in {time.time() - start:.0f} s')
    except (FileNotFoundError, ValueError, KeyError, CheckpointMismatchError) as e:
        print(f'error: {e.args[0] if isinstance(e, KeyError) and e.args else e}', file=sys.stderr)
        return 1
    except RuntimeError as e:  # torch.export / the ONNX translation refused the model
        print(f'error: the export failed ({type(e).__name__}): {e}', file=sys.stderr)
        return 1
    if not args.verify:
        return 0
    if args.fp16 and args.providers == ['CPUExecutionProvider']:
        logger.info('fp16 is meant for CUDA execution providers; checking it on the CPU one (supported, slow)')
    report = check_parity(source.model, args.out, meta, args.verify_batch, providers=args.providers)
    for line in str(report).splitlines():
        logger.info(line)
    if not report.passed:
        print(f'error: the parity check failed for {args.out}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
