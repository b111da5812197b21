"""Export a ViTPose config + checkpoint to ONNX and check it against torch with onnxruntime (docs/deploy.md).

    python tools/export_onnx.py CONFIG CHECKPOINT OUT.onnx [--fp16 | --int8] [--dataset NAME] [--batch 2] [--no-verify]
    python tools/export_onnx.py configs/vitpose_plus/td-hm_ViTPose-plus-base_8xb128-210e_6datasets-256x192.py \
        vitpose_plus_base.pth ap10k.onnx --dataset ap10k

The graph: float32 normalized crops (N, 3, H, W), N dynamic -> float32 heatmaps (N, K, H/4, W/4). No flip test and
no decoding inside (a runtime does both: vitpose_mm.deploy.OnnxPoseModel). A bottom-up config (BottomupPoseEstimator)
exports every map its head returns (DEKRHead: heatmaps and displacements) at the codec's input size (images are fitted
into it, BottomupResize resize_mode='fit'); grouping and decoding stay in Python (vitpose_mm.deploy.OnnxBottomupModel). The keypoint names, flip indices, input
size, mean/std, codec and test pipeline go into the file's metadata (key ``vitpose_mm``, JSON). Exit status: 0 done,
1 bad input or failed export (nothing written), 2 the parity check failed (the file stays, for inspection).
"""
import argparse
import logging
import sys

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
                        '(coco, aic, mpii, ap10k, apt36k, coco_wholebody ...; also with a plain config and an '
                        'official ViTPose+ file; wholebody and coco_wholebody name the same dataset)')
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument('--fp16', action='store_true', help='float16 weights and compute (for CUDA execution '
                           'providers); input and output stay float32')
    precision.add_argument('--int8', action='store_true', help="onnxruntime's dynamic int8 quantization (int8 "
                           'weights per channel, activations quantized at run time): the fast path of CPUs without '
                           'native bf16; input and output stay float32')
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

    import vitpose_mm  # noqa: F401  (registers the modules)
    from vitpose_mm.checkpoints import CheckpointMismatchError
    from vitpose_mm.deploy.export import export_and_verify
    from vitpose_mm.utils import error_message
    MMLogger.get_instance('export_onnx', log_level=logging.INFO)
    try:
        _, report = export_and_verify(
            args.config, None if args.checkpoint.lower() == 'none' else args.checkpoint, args.out, args.dataset,
            'fp16' if args.fp16 else 'int8' if args.int8 else 'fp32', args.batch, args.opset, args.verify,
            args.verify_batch, args.providers, args.cfg_options)
    except (FileNotFoundError, ValueError, KeyError, CheckpointMismatchError) as e:
        print(f'error: {error_message(e)}', file=sys.stderr)
        return 1
    except RuntimeError as e:  # torch.export / the ONNX translation refused the model
        print(f'error: the export failed ({type(e).__name__}): {e}', file=sys.stderr)
        return 1
    if report is not None and not report.passed:
        print(f'error: the parity check failed for {args.out}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
