"""Peak memory of one training step of a bottom-up ViTPose at 512x512: full attention, window attention, gradient
checkpointing.

Each mode runs in a fresh process (so one mode's peak does not hide another's): the backbone of CONFIG (default the
ViTPose-B DEKR config, random weights; ``--whole-model`` adds the neck and head) does one forward and backward pass on
random images with a scalar of its outputs as the loss. Reported per mode and batch size:

- ``saved``: bytes of the tensors autograd keeps for the backward pass (``torch.autograd.graph.saved_tensors_hooks``,
  counted once per storage): the activation memory that window attention and checkpointing reduce, device-independent;
- ``peak``: on CUDA ``torch.cuda.max_memory_allocated`` during the step; on the CPU the process's peak resident memory
  (``ru_maxrss``) above the resident memory before the step (allocator caching makes it a coarse figure).

Example::

    python tools/benchmark_bottomup_memory.py --batch-sizes 1 2
"""
import argparse
import json
import os.path as osp
import resource
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = osp.join(ROOT, 'configs', 'bottomup', 'dekr_ViTPose-base_8xb10-140e_coco-512x512.py')
MODES = ('full', 'window', 'checkpoint')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Peak memory of a bottom-up ViTPose training step: full attention, '
                                     'window attention and gradient checkpointing, each in a fresh process.')
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='bottom-up config (default: ViTPose-B DEKR, COCO)')
    parser.add_argument('--size', type=int, default=512, help='square input side in pixels (default: 512)')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 2], help='batch sizes (default: 1 2)')
    parser.add_argument('--modes', nargs='+', choices=MODES, default=list(MODES), help='modes (default: all)')
    parser.add_argument('--window', type=int, default=8, help='window side in patches for "window" (default: 8)')
    parser.add_argument('--global-blocks', type=int, nargs='*', default=[2, 5, 8, 11],
                        help='blocks with full attention in "window" mode (default: 2 5 8 11, ViTDet-style)')
    parser.add_argument('--whole-model', action='store_true',
                        help='the whole model (backbone, neck, head) instead of the backbone (DEKR\'s deformable '
                        'convolutions are slow on the CPU)')
    parser.add_argument('--device', default='cuda' if _cuda() else 'cpu', help='cuda or cpu (default: cuda if any)')
    parser.add_argument('--child', help=argparse.SUPPRESS)  # internal: run one mode, print one JSON line
    return parser.parse_args(argv)


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def _rss_bytes() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def run_mode(args: argparse.Namespace, mode: str, batch: int) -> dict:
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import vitpose_mm  # noqa: F401  (registration)
    cfg = Config.fromfile(args.config)
    init_default_scope('mmpose')
    bb = cfg.model.backbone
    bb.init_cfg = None  # random weights: memory does not depend on them
    bb.img_size = (args.size, args.size)
    if mode == 'window':
        bb.window_size, bb.global_blocks = args.window, tuple(args.global_blocks)
    bb.use_checkpoint = mode == 'checkpoint'
    model = MODELS.build(cfg.model)
    net = (model if args.whole_model else model.backbone).to(args.device).train()
    x = torch.randn(batch, 3, args.size, args.size, device=args.device)
    stores = {}

    def pack(t):
        try:
            key = (t.untyped_storage().data_ptr(), t.device)
            stores[key] = max(stores.get(key, 0), t.untyped_storage().nbytes())
        except (RuntimeError, NotImplementedError):
            pass
        return t

    cuda = args.device.startswith('cuda')
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _rss_bytes()
    start = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x, None, mode='tensor') if args.whole_model else net(x)
    loss = sum(o.float().mean() for o in (out if isinstance(out, (tuple, list)) else (out, )))
    loss.backward()
    if cuda:
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    params = sum(p.numel() for p in net.parameters())
    return dict(mode=mode, batch=batch, device=args.device, saved_mib=sum(stores.values()) / 2**20,
                peak_mib=peak / 2**20, seconds=time.perf_counter() - start, params_m=params / 1e6,
                grid=list(model.backbone.patch_shape))


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        mode, batch = args.child.split(':')
        print(json.dumps(run_mode(args, mode, int(batch))))
        return 0
    if not osp.isfile(args.config):
        print(f'error: config {args.config} not found', file=sys.stderr)
        return 2
    rows = []
    jobs = [(m, b) for b in args.batch_sizes for m in args.modes]
    for i, (mode, batch) in enumerate(jobs, 1):
        print(f'[{i}/{len(jobs)}] {mode}, batch {batch} ...', file=sys.stderr, flush=True)
        cmd = [sys.executable, osp.abspath(__file__), '--child', f'{mode}:{batch}', '--config', args.config,
               '--size', str(args.size), '--window', str(args.window), '--device', args.device,
               '--global-blocks', *map(str, args.global_blocks)] + (['--whole-model'] if args.whole_model else [])
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            print(res.stderr[-2000:], file=sys.stderr)
            return res.returncode
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    print(f'{osp.basename(args.config)}, {args.size}x{args.size} input, grid {rows[0]["grid"]}, '
          f'{rows[0]["params_m"]:.1f}M parameters ({"whole model" if args.whole_model else "backbone"}), device '
          f'{rows[0]["device"]}; one forward + backward')
    print(f'{"mode":<11} {"batch":>5} {"saved for backward (MiB)":>25} {"peak above model (MiB)":>23} {"s":>7}')
    full = {r['batch']: r for r in rows if r['mode'] == 'full'}
    for r in rows:
        ratio = f' ({r["saved_mib"] / full[r["batch"]]["saved_mib"]:.2f}x full)' if r['batch'] in full else ''
        print(f'{r["mode"]:<11} {r["batch"]:>5} {r["saved_mib"]:>12.0f}{ratio:<13} {r["peak_mib"]:>23.0f} '
              f'{r["seconds"]:>7.1f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
