"""Evaluate a vitpose_mm checkpoint with mmengine's runner (COCO keypoint AP for the shipped configs).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl] [--show-dir DIR]
        [--precision fp32|bf16|fp16] [--compile]
    python tools/test.py CONFIG MODEL.onnx [--out results.pkl]     # an export of tools/export_onnx.py
    mim test vitpose_mm CONFIG --checkpoint CHECKPOINT ...

The checkpoint goes through vitpose_mm.checkpoints.load_checkpoint (ViTPoseRunner): any public layout is converted
on the way; one that does not fit stops with what it is, what the model is and the fix, and nothing is loaded.
An ``.onnx`` file (tools/export_onnx.py, fp32, fp16 or int8) is evaluated in place of the model, with onnxruntime:
the config gives the data and the metric, the file its network, flip test and decoding (docs/deploy.md).
"""
import argparse
import os
import os.path as osp

from mmengine.config import DictAction

import vitpose_mm  # noqa: F401  (registers the modules)
from vitpose_mm.checkpoints import CheckpointMismatchError
from vitpose_mm.engine.launch import LAUNCHERS, build_test_config, run_test
from vitpose_mm.models.pose_estimators import PRECISIONS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (evaluate) a vitpose_mm (mmpose 1.x) pose model.')
    parser.add_argument('config', help='config file path, or a config file name from the package configs/')
    parser.add_argument('checkpoint', help='checkpoint file, or an .onnx export of tools/export_onnx.py (run by '
                        'onnxruntime; its crop size and keypoints must be the config\'s)')
    parser.add_argument('--work-dir', help='where the evaluation log goes (default: ./work_dirs/CONFIG_NAME)')
    parser.add_argument('--out', help='dump the raw predictions to this .pkl/.json file')
    parser.add_argument('--show-dir', help='save images with predicted skeletons to WORK_DIR/TIMESTAMP/SHOW_DIR')
    parser.add_argument('--kpt-thr', type=float, default=0.3, help='keypoint score threshold when drawing')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries, e.g. test_dataloader.batch_size=8')
    parser.add_argument('--src-grid', nargs=2, type=int, metavar=('H', 'W'),
                        help='position grid of the checkpoint when it does not record it and it is not square '
                        '(e.g. 16 12 for 256x192 weights tested at another input size)')
    parser.add_argument('--verbose', action='store_true', help='list every key when the checkpoint does not fit')
    parser.add_argument('--precision', choices=PRECISIONS, default=None,
                        help='inference precision: fp32, bf16 (CPU and CUDA) or fp16 (CUDA); the default is the '
                        "config's model.test_cfg.precision, else fp32 (docs/speed.md)")
    parser.add_argument('--compile', action='store_true', help='torch.compile the backbone and head (docs/speed.md)')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='job launcher for distributed testing')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        raise SystemExit(f'error: checkpoint not found: {args.checkpoint}')
    onnx_model = args.checkpoint if args.checkpoint.lower().endswith('.onnx') else None
    if onnx_model and (args.precision or args.compile or args.src_grid or args.launcher != 'none'):
        raise SystemExit('error: --precision, --compile, --src-grid and --launcher apply to checkpoints; an .onnx '
                         'export runs as exported (export it with --fp16 or --int8 for another precision)')
    if onnx_model:  # before the runner and the data: a file that is no export of this package stops here
        from vitpose_mm.deploy.metadata import read_metadata
        try:
            meta = read_metadata(onnx_model)
        except (FileNotFoundError, ValueError) as e:
            raise SystemExit(f'error: {e}')
        if meta.get('data_mode') == 'bottomup':
            raise SystemExit(f'error: {onnx_model} is a bottom-up export: tools/test.py evaluates top-down exports; '
                             'evaluate the bottom-up checkpoint, or run the export with vitpose_mm.deploy.'
                             'OnnxBottomupModel (docs/deploy.md)')
    import torch
    if args.precision == 'fp16' and not torch.cuda.is_available():  # before building the runner and the data
        raise SystemExit("error: --precision fp16 needs a CUDA device and there is none here; on the CPU use bf16 or "
                         "fp32")
    cfg = build_test_config(args.config, None if onnx_model else args.checkpoint, args.cfg_options,
                            work_dir=args.work_dir, launcher=args.launcher, out=args.out, show_dir=args.show_dir,
                            kpt_thr=args.kpt_thr, src_grid=args.src_grid, verbose=args.verbose,
                            precision=args.precision, compile=args.compile)
    from vitpose_mm.utils import check_model_types
    try:
        check_model_types(cfg)  # a head or codec the installed mmpose lacks: named, with the mmpose version
    except ValueError as e:
        raise SystemExit(f'error: {e}')
    prepare = None
    if onnx_model:  # the export in place of the config's model
        from vitpose_mm.deploy.evaluate import use_onnx_model
        dataset_check = (cfg.get('checkpoint_loading') or {}).get('dataset_check', 'error')

        def prepare(runner):
            use_onnx_model(runner, onnx_model, dataset_check=dataset_check)
    try:
        run_test(cfg, prepare)
    except CheckpointMismatchError as e:  # what the checkpoint is and the fix, without a traceback
        raise SystemExit(f'error: {e}')


if __name__ == '__main__':
    main()
