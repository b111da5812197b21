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
import os
import os.path as osp
import re
import sys
from collections import defaultdict

LAYOUT_CHOICES = ('auto', 'official', 'vitpose_mm', 'mmpose', 'hf', 'mae')
DATASET_CHOICES = ('coco', 'aic', 'mpii', 'ap10k', 'apt36k', 'wholebody')


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
                        'model). With --to hf and no --dataset, all experts and the COCO head are kept')
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


def build_model(config: str, options: dict):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    from vitpose_mm.utils import find_config
    path = find_config(config)
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(options)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    return MODELS.build(cfg.model), path


def default_mae_config(sd) -> str:
    """The shipped config of the released size whose width and depth these pre-training weights have."""
    from vitpose_mm.checkpoints.arch import STANDARD_SIZES
    width = next((v.shape[-1] for k, v in sd.items() if k in ('pos_embed', 'backbone.pos_embed')), None)
    depth = len({m.group(1) for k in sd for m in [re.match(r'(?:backbone\.)?(?:blocks|layers)\.(\d+)\.', k)] if m})
    if (width, depth) not in STANDARD_SIZES:
        raise ValueError(f'pre-training weights of a {width}-d, {depth}-block ViT, not a released size: give the '
                         'vitpose_mm config to convert them for (--config)')
    return f'td-hm_ViTPose-{STANDARD_SIZES[(width, depth)][0]}_8xb64-210e_coco-256x192.py'


def summarize_dropped(dropped: dict, verbose: bool) -> None:
    if not dropped:
        log('dropped: nothing')
        return
    log(f'dropped {len(dropped)} keys:')
    if verbose:
        for key, reason in dropped.items():
            log(f'  {key}: {reason}')
        return
    groups = defaultdict(list)
    for key, reason in dropped.items():
        groups[reason].append(key)
    for reason, keys in groups.items():
        log(f'  {len(keys):4d} x {summarize_keys(keys)}: {reason}')


def summarize_keys(keys) -> str:
    """``backbone.blocks.N.mlp.experts.3.*`` for the keys of one expert in every block, and the like."""
    if len(keys) == 1:
        return keys[0]
    patterns = sorted({re.sub(r'(blocks|layer)\.\d+\.', r'\1.N.', k.rsplit('.', 1)[0]) + '.*' for k in keys})
    if len(patterns) <= 2:
        return ', '.join(patterns)
    common = osp.commonprefix([p.split('.') for p in patterns])
    return '.'.join(common) + '.*' if common else ', '.join(patterns[:2]) + ', ...'


def run(args) -> None:
    from vitpose_mm.checkpoints import (convert_checkpoint, detect_layout, fit_to_model, read_source,
                                        save_checkpoint, save_hf)
    if args.to == 'hf' and osp.exists(args.dst) and (not osp.isdir(args.dst) or os.listdir(args.dst)):
        raise FileExistsError(f'--to hf writes a new folder, but {args.dst} exists and is not empty')
    if args.to == 'vitpose_mm' and osp.isdir(args.dst):
        raise IsADirectoryError(f'{args.dst} is a folder; --to vitpose_mm writes a checkpoint file')
    log(f'reading {args.src}')
    src = read_source(args.src)
    layout = detect_layout(list(src.state_dict)) if args.src_format == 'auto' else args.src_format
    log(f'{len(src.state_dict)} tensors, layout: {layout}' + (' (detected)' if args.src_format == 'auto' else '') +
        (', with HF config.json' if src.hf_config else ''))
    if layout == 'mae' and args.to == 'hf':
        raise ValueError('pre-training weights have no pose head: HF VitPoseForPoseEstimation needs one')
    config = args.config or (default_mae_config(src.state_dict) if layout == 'mae' else None)
    model = None
    if config:
        model, config = build_model(config, args.cfg_options)
        log(f'target model from {config}')
    elif args.cfg_options:
        raise ValueError('--cfg-options needs --config')
    conv = convert_checkpoint(src, layout, args.dataset, keep_experts=args.to == 'hf',
                              backbone=model.backbone if model is not None and layout == 'mae' else None,
                              src_grid=args.src_grid, patch_padding=args.patch_padding)
    if model is not None:
        fit_to_model(conv, model, args.patch_padding, config=config, verbose=args.verbose)
        log(f'checked against the model: all {len(conv.state_dict)} tensors have its names and shapes')
    for note in conv.notes:
        log(f'note: {note}')
    summarize_dropped(conv.dropped, args.verbose)
    log(f'architecture: {conv.arch.describe()}')
    for what in conv.arch.assumed:
        log(f'  assumed (not in the weights): {what}')
    if args.to == 'hf':
        save_hf(conv, args.dst)
        log(f'wrote HF folder {args.dst} (config.json, model.safetensors): '
            f'VitPoseForPoseEstimation.from_pretrained({args.dst!r})')
        return
    save_checkpoint(conv, args.dst)
    size = osp.getsize(args.dst) / 2**20
    log(f'wrote {args.dst} ({len(conv.state_dict)} tensors, {size:.1f} MiB)')
    if conv.backbone_only:
        log(f'use it as backbone init: --cfg-options model.backbone.init_cfg.checkpoint={args.dst}')
        return
    opts = conv.arch.cfg_options_text()
    cfg_name = osp.basename(config) if config else conv.arch.config_name()
    log(f'test it: mim test vitpose_mm {cfg_name} --checkpoint {args.dst}' +
        (f' --cfg-options {opts}' if opts and not args.config else ''))
    if conv.arch.num_heads is None:
        log('warning: the number of attention heads is not in the weights; set model.backbone.num_heads')


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except (ValueError, KeyError, OSError, RuntimeError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f'[convert] error: {msg}\n[convert] nothing was written', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
