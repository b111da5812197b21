"""Train a vitpose_mm model with mmengine's runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--cfg-options k=v ...]
    mim train vitpose_mm CONFIG ...   (same arguments)

Runs on CUDA when available, otherwise on the CPU. A CONFIG that is not a path is looked up by file name in the
package's configs/ (as mim does).
"""
import argparse
import os

from mmengine.config import DictAction

import vitpose_mm  # noqa: F401  (registers the modules)
from vitpose_mm.engine.launch import LAUNCHERS, build_train_config, run_train


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a vitpose_mm (mmpose 1.x) pose model.')
    parser.add_argument('config', help='config file path, or a config file name from the package configs/')
    parser.add_argument('--work-dir', help='where logs and checkpoints go (default: ./work_dirs/CONFIG_NAME)')
    parser.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CKPT',
                        help='resume from CKPT, or from the latest checkpoint of the work dir if CKPT is omitted')
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision: fp16 on CUDA, bfloat16 on a machine without CUDA')
    parser.add_argument('--no-validate', action='store_true', help='skip validation during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by the actual total batch size (see auto_scale_lr)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries, e.g. train_cfg.max_epochs=10 train_dataloader.batch_size=8')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none',
                        help='job launcher for distributed training')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    run_train(build_train_config(args.config, args.cfg_options, work_dir=args.work_dir, launcher=args.launcher,
                                 resume=args.resume, amp=args.amp, no_validate=args.no_validate,
                                 auto_scale_lr=args.auto_scale_lr))


if __name__ == '__main__':
    main()
