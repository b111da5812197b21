"""Fine-tune ViTPose on a COCO-format keypoint dataset of your own keypoints, or add a dataset to a ViTPose+ model.

    python tools/finetune.py TRAIN_ANN TRAIN_IMG_DIR --from CONFIG [--checkpoint CKPT] [--dataset NAME]
        [--val-ann VAL_ANN --val-img-dir DIR] --work-dir DIR [--epochs N] [--flip-pairs a:b ...] [--resume]
        [--cfg-options ...]
    python tools/finetune.py TRAIN_ANN TRAIN_IMG_DIR --from VITPOSE_PLUS_CONFIG --checkpoint CKPT \\
        --add-dataset NAME [--train-shared] --work-dir DIR ...
    mim run vitpose_mm finetune ...   (same arguments)

Writes the metainfo file, the config, the initial weights and a run record into the work dir, then trains with
mmengine's runner (as tools/train.py). See docs/finetune.md.
"""
import argparse
import os
import sys

from mmengine.config import DictAction


def parse_args(argv=None) -> argparse.Namespace:
    from vitpose_mm.engine.launch import LAUNCHERS
    parser = argparse.ArgumentParser(
        description='Fine-tune ViTPose on a COCO-format keypoint dataset (any keypoints), or add a dataset to a '
        'trained ViTPose+ model; writes metainfo, config and initial weights into the work dir, then trains.')
    parser.add_argument('train_ann', help='COCO-format keypoint annotation file for training (.json)')
    parser.add_argument('train_img_dir', help='folder the training file\'s image file_name entries are in')
    parser.add_argument('--from', dest='start', required=True,
                        help='starting config (file or shipped config name), or an HF ViTPose folder')
    parser.add_argument('--checkpoint', help='weights of the starting config, any layout the package loads '
                        '(without it the model trains from scratch)')
    parser.add_argument('--dataset', help='ViTPose+ start: the dataset whose expert and head to start from')
    parser.add_argument('--val-ann', help='COCO-format keypoint annotation file for validation and tools/test.py')
    parser.add_argument('--val-img-dir', help='folder of the validation images')
    parser.add_argument('--work-dir', required=True, help='where the written files, logs and checkpoints go')
    parser.add_argument('--epochs', type=int, help='epochs (default: scaled to the dataset size, 10 to 210)')
    parser.add_argument('--flip-pairs', nargs='+', default=(), metavar='A:B',
                        help='left:right keypoint pairs (default: read off the names, printed for checking)')
    parser.add_argument('--no-flip', action='store_true', help='no flip augmentation and no flip test (e.g. '
                        'keypoints without partners, or data whose sides show in the image)')
    parser.add_argument('--name', default='custom', help='dataset_name of the new keypoints (default: custom)')
    parser.add_argument('--add-dataset', metavar='NAME', help='ViTPose+: append an expert and a head for this new '
                        'dataset to the --checkpoint model of --from; only they train')
    parser.add_argument('--train-shared', action='store_true', help='with --add-dataset: train the shared '
                        'backbone weights too (the other datasets\' results then change)')
    parser.add_argument('--prepare-only', action='store_true', help='write the files, do not train (then e.g. '
                        'mim train vitpose_mm WORK_DIR/finetune_NAME.py --launcher pytorch -G 8)')
    parser.add_argument('--resume', action='store_true', help='continue the run of the work dir (same arguments)')
    parser.add_argument('--amp', action='store_true', help='mixed precision: fp16 on CUDA, bfloat16 without CUDA')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override entries of the written config, e.g. train_dataloader.batch_size=16')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher for distributed training')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f'--epochs must be >= 1, got {args.epochs}')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import vitpose_mm  # noqa: F401  (registers the modules)
    from vitpose_mm.finetune import FinetuneArgs, FinetuneError, finetune
    fargs = FinetuneArgs(args.train_ann, args.train_img_dir, args.start, args.work_dir, checkpoint=args.checkpoint,
                         dataset=args.dataset, val_ann=args.val_ann, val_img_dir=args.val_img_dir,
                         epochs=args.epochs, flip_pairs=tuple(args.flip_pairs), no_flip=args.no_flip, name=args.name,
                         add_dataset=args.add_dataset, train_shared=args.train_shared,
                         cfg_options=dict(args.cfg_options), resume=args.resume, amp=args.amp,
                         launcher=args.launcher)
    try:
        path = finetune(fargs, train=not args.prepare_only)
    except FinetuneError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f'config: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
