"""Draw masked crops and their MAE reconstructions (docs/mae.md).

    python tools/draw_mae_reconstructions.py CONFIG CHECKPOINT OUT.png [--num 6] [--seed 0] [--cfg-options k=v ...]

CONFIG is an MAE pre-training config (configs/mae/), CHECKPOINT its checkpoint. The crops come from the config's
training set (e.g. another split: ``--cfg-options train_dataloader.dataset.ann_file=... ``), evenly spaced over it,
with its pipeline; the masks are random (``--seed``). Rows: the crop, the masked crop (what the encoder sees), the
reconstruction, the reconstruction with the visible patches pasted back.
"""
import argparse

import cv2
import torch
from mmengine.config import DictAction
from mmengine.dataset import default_collate
from mmengine.registry import DATASETS, init_default_scope


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Draw masked crops and their MAE reconstructions into one picture.')
    parser.add_argument('config', help='MAE pre-training config (configs/mae/)')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument('out', help='output picture (.png or .jpg)')
    parser.add_argument('--num', type=int, default=6, help='number of crops (default: 6)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the masks and the augmentation (default: 0)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='override config settings, e.g. train_dataloader.dataset.ann_file=...')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.num < 1:
        raise SystemExit(f'error: --num must be >= 1, got {args.num}')
    torch.set_num_threads(1)
    from mmpretrain.registry import MODELS

    from vitpose_mm.checkpoints import CheckpointMismatchError, load
    from vitpose_mm.models.mae.reconstruct import reconstruct, tile, to_images
    from vitpose_mm.utils import load_config
    try:
        cfg = load_config(args.config, args.cfg_options)
    except FileNotFoundError as e:
        raise SystemExit(f'error: {e}')
    if cfg.model.get('type') != 'MAE':
        raise SystemExit(f"error: {args.config} is not an MAE pre-training config (model type "
                         f"{cfg.model.get('type')!r}, expected 'MAE'; see configs/mae/)")
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    import vitpose_mm.models.mae  # noqa: F401  (the configs' custom_imports)
    model = MODELS.build(cfg.model).eval()
    try:
        load(model, args.checkpoint)
    except (FileNotFoundError, RuntimeError, CheckpointMismatchError) as e:
        raise SystemExit(f'error: {e}')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    num = min(args.num, len(dataset))
    torch.manual_seed(args.seed)
    batch = default_collate([dataset[i * len(dataset) // num] for i in range(num)])
    inputs = model.data_preprocessor(batch, False)['inputs']
    out = reconstruct(model, inputs)
    pre = model.data_preprocessor
    masked = f'masked ({int(out["mask"][0].sum())} of {out["mask"].shape[1]} patches)'
    views = [('input', inputs), (masked, out['masked']), ('reconstruction', out['reconstruction']),
             ('reconstruction + visible patches', out['pasted'])]
    cv2.imwrite(args.out, tile([to_images(x, pre.mean, pre.std) for _, x in views], [k for k, _ in views]))
    print(f'drew {num} crops -> {args.out}')


if __name__ == '__main__':
    main()
