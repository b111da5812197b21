"""Convert a ViTPose checkpoint of any public layout to vitpose_mm, or a vitpose_mm checkpoint to HF transformers.

    python tools/convert_checkpoint.py SRC DST [--src-format FORMAT] [--dataset NAME] [--to vitpose_mm|hf]
                                       [--config CONFIG [--cfg-options K=V ...]] [--src-grid H W]
                                       [--patch-padding pad|bilinear|bicubic] [--verbose]
    mim run vitpose_mm convert_checkpoint SRC DST ...

SRC is a .pth/.pt/.safetensors file or an HF save_pretrained folder; it is read without running any code from it
(torch weights_only / safetensors). --to vitpose_mm (default) writes an mmengine checkpoint that the matching
vitpose_mm config loads with --checkpoint / load_from; --to hf writes a save_pretrained folder (config.json +
model.safetensors) for transformers' VitPoseForPoseEstimation. Nothing is written when anything does not fit.
Layouts, examples and what is dropped: docs/checkpoints.md.
"""
import argparse
import sys

LAYOUT_CHOICES = ('auto', 'official', 'vitpose_mm', 'mmpose', 'hf', 'mae')
DATASET_CHOICES = ('coco', 'aic', 'mpii', 'ap10k', 'apt36k', 'wholebody', 'coco_wholebody')  # the last two: one dataset


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        prog='convert_checkpoint', formatter_class=argparse.RawDescriptionHelpFormatter,
        description='Convert a ViTPose checkpoint (official 0.x / ViTPose+, mmpose 1.x, HF transformers, MAE '
        'pre-training) to vitpose_mm, or a vitpose_mm checkpoint to an HF transformers folder.',
        epilog='examples:\n'
        '  %(prog)s vitpose-b.pth vitpose-b_mm.pth\n'
        '  %(prog)s vitpose+_base.pth vitpose+_base_aic.pth --dataset aic\n'
        '  %(prog)s mmpose_vitpose-b-simple.pth out.pth --config td-hm_ViTPose-base-simple_8xb64-210e_coco-256x192\n'
        '  %(prog)s ./vitpose-base-simple/ out.pth            (an HF save_pretrained folder)\n'
        '  %(prog)s mae_pretrain_vit_base.pth mae_b_16x12.pth --src-format mae\n'
        '  %(prog)s work_dirs/x/best.pth ./hf-out/ --to hf --config CONFIG\n'
        'details: docs/checkpoints.md')
    parser.add_argument('src', help='checkpoint file (.pth/.pt/.safetensors) or HF save_pretrained folder')
    parser.add_argument('dst', help='output: a checkpoint file (--to vitpose_mm) or a new folder (--to hf)')
    parser.add_argument('--src-format', choices=LAYOUT_CHOICES, default='auto',
                        help='layout of SRC (default: detected from its keys)')
    parser.add_argument('--dataset', choices=DATASET_CHOICES,
                        help='ViTPose+ only: the dataset whose expert and head to keep (a plain single-dataset '
                        'model). With --to hf and no --dataset, all experts and the COCO head are kept. An HF '
                        'ViTPose+ folder has only the COCO head: another dataset gives the COCO head behind that '
                        "dataset's expert (COCO keypoints), labelled so in the log and the checkpoint meta")
    parser.add_argument('--to', choices=('vitpose_mm', 'hf'), default='vitpose_mm', help='output format')
    parser.add_argument('--config', help='vitpose_mm config (file or shipped name) to check the result against: '
                        'every key and shape, position embedding resampled to its grid; also gives the number of '
                        'attention heads and the decoder upsampling. Required for --src-format mae unless the '
                        'model is a released size')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override entries of --config, e.g. model.head.out_channels=14')
    parser.add_argument('--src-grid', nargs=2, type=int, metavar=('H', 'W'),
                        help='position grid of SRC (patch rows x columns) when the file does not record it: '
                        'needed to resample a non-square grid that is not the released 16x12 (official, mmpose, '
                        'HF files are 16x12 unless this says otherwise)')
    parser.add_argument('--patch-padding', choices=('pad', 'bilinear', 'bicubic'), default='pad',
                        help='pre-training weights of another patch size (e.g. MAE ViT-H/14 for 16x16 patches): '
                        'zero-pad the kernel (pad, the ViTPose paper\'s choice) or resize it')
    parser.add_argument('--verbose', action='store_true', help='list every dropped key (and every mismatched key)')
    return parser.parse_args(argv)


def log(msg: str) -> None:
    print(f'[convert] {msg}', flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    from vitpose_mm.checkpoints.convert_file import convert_file
    from vitpose_mm.utils import error_message
    try:
        convert_file(args.src, args.dst, src_format=args.src_format, dataset=args.dataset, to=args.to,
                     config=args.config, cfg_options=args.cfg_options, src_grid=args.src_grid,
                     patch_padding=args.patch_padding, verbose=args.verbose, log=log)
    except (ValueError, KeyError, OSError, RuntimeError) as e:
        print(f'[convert] error: {error_message(e)}\n[convert] nothing was written', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
