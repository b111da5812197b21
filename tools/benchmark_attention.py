"""Cost of the paper's attention types and input resolutions for ViTPose-B (docs/attention.md).

    python tools/benchmark_attention.py                       # both tables, CPU, batch 1
    python tools/benchmark_attention.py --what attention --device cuda --batch 64

Attention table: for each config of configs/attention/ (ViTPose-B at 1/8 features), the memory and FLOPs of one
training step, with ratios to full attention beside the paper's memory ratios. Resolution table: inference
images/s of ViTPose-B at 256x192, 384x288 and 576x432 (configs/coco, configs/resolution). Random weights and
inputs; pre-training weights are not loaded.
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from vitpose_mm.analysis import inference_throughput, training_step_cost  # importing registers the modules

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
NAME = 'td-hm_ViTPose-base-ratio2-{}_8xb64-210e_coco-256x192.py'
# config row -> (paper row, paper training memory in MB); ViTPose paper, table of attention types
ATTENTION_ROWS = {
    'full': ('full', 36141),
    'window8x8': ('window 8x8', 21161),
    'window8x8-shift': ('window + shift', 21161),
    'window8x8-pool': ('window + pool', 22893),
    'window8x8-shift-pool': ('window + shift + pool', 22893),
    'full-window8x8': ('full + window', 28594),
    'window16x12-shift-pool': ('16x12 shift + pool', 26778),
}
RESOLUTIONS = {
    '256x192': 'coco/td-hm_ViTPose-base_8xb64-210e_coco-256x192.py',
    '384x288': 'resolution/td-hm_ViTPose-base_8xb64-210e_coco-384x288.py',
    '576x432': 'resolution/td-hm_ViTPose-base_8xb64-210e_coco-576x432.py',
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Training memory and FLOPs of the attention types (ViTPose-B, 1/8 '
                                     'features), and inference images/s at 256x192, 384x288 and 576x432.')
    parser.add_argument('--what', choices=['attention', 'resolution', 'both'], default='both')
    parser.add_argument('--rows', nargs='+', choices=sorted(ATTENTION_ROWS), default=list(ATTENTION_ROWS),
                        help='attention rows to measure (default: all seven)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda[:i] (default: cpu)')
    parser.add_argument('--batch', type=int, default=1, help='training batch size (default: 1)')
    parser.add_argument('--fused', action='store_true', help='use F.scaled_dot_product_attention; by default the '
                        'attention is written out, as in the official code the paper measured')
    parser.add_argument('--infer-batch', type=int, default=4, help='inference batch size (default: 4)')
    parser.add_argument('--iters', type=int, default=3, help='timed inference iterations (default: 3)')
    parser.add_argument('--threads', type=int, default=0, help='torch CPU threads (default: torch\'s choice)')
    args = parser.parse_args(argv)
    if args.batch < 1 or args.infer_batch < 1 or args.iters < 1:
        parser.error('--batch, --infer-batch and --iters must be >= 1')
    return args


def build(config: str, fused: bool):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', config))
    init_default_scope(cfg.default_scope)
    backbone = cfg.model.backbone
    backbone.pop('init_cfg', None)  # random weights: the cost does not depend on them
    backbone.update(fused_attn=fused, drop_path_rate=0.)
    return MODELS.build(cfg.model), tuple(backbone.img_size)


def attention_table(args) -> None:
    print(f'# one training step of ViTPose-B at 1/8 features, batch {args.batch}, {args.device}, '
          f'{"fused" if args.fused else "written-out"} attention')
    cpu = not args.device.startswith('cuda')
    if cpu:
        print('# CPU memory is counted (weights, gradients, AdamW states + tensors saved for backward); "at 64" '
              'adds 64 images\' activations to the rest: a linear extrapolation to the batch of one training GPU')
    print('| row | memory MB | ratio | activations MB/image | ratio | at 64 MB | ratio | paper MB | paper ratio | '
          'GFLOPs/image | ratio |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    base = None
    for row in args.rows:
        torch.manual_seed(0)
        model, hw = build('attention/' + NAME.format(row), args.fused)
        cost = training_step_cost(model, hw, args.batch, args.device)
        del model
        act = cost.activation_bytes / args.batch
        at64 = cost.memory_bytes - cost.activation_bytes + 64 * act
        if base is None:
            if row != 'full':
                print('(ratios are to the first row measured, not to full attention)')
            base = (cost, act, at64)
        paper_row, paper_mb = ATTENTION_ROWS[row]

        def cell(value: float, ref: float) -> str:
            return f'{value / 2**20:,.0f} | {value / ref:.0%}' if cpu else 'n/a | n/a'

        print(f'| {paper_row} | {cost.memory_bytes / 2**20:,.0f} | {cost.memory_bytes / base[0].memory_bytes:.0%} | '
              f'{cell(act, base[1])} | {cell(at64, base[2])} | '
              f'{paper_mb:,} | {paper_mb / ATTENTION_ROWS["full"][1]:.0%} | {cost.flops / args.batch / 1e9:,.1f} | '
              f'{cost.flops / base[0].flops:.0%} |', flush=True)


def resolution_table(args) -> None:
    print(f'# ViTPose-B inference, batch {args.infer_batch}, {args.iters} timed iterations, {args.device}, '
          f'{"fused" if args.fused else "written-out"} attention, {torch.get_num_threads()} threads')
    print('| input | images/s | ratio |')
    print('|---|---|---|')
    base = None
    for name, config in RESOLUTIONS.items():
        torch.manual_seed(0)
        model, hw = build(config, args.fused)
        speed = inference_throughput(model, hw, args.infer_batch, args.iters, args.device)
        base = base or speed
        print(f'| {name} | {speed:,.2f} | {speed / base:.0%} |', flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.what in ('attention', 'both'):
        attention_table(args)
    if args.what in ('resolution', 'both'):
        resolution_table(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
