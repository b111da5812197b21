"""Peak memory per process of DDP vs FSDP training steps, side by side (CPU with gloo, or CUDA with nccl).

    python tools/benchmark_sharding.py [CONFIG] [--nproc 2] [--steps 3] [--batch 1] [--checkpointing]

Starts NPROC processes twice (DDP, then FSDP with one unit per ViT block, `use_orig_params=True`), each running
STEPS AdamW training steps of CONFIG's model (random weights, random 256x192 crops, layer-decay groups), and prints
the peak resident memory (CPU) or peak allocated memory (CUDA) of every rank and the FSDP/DDP ratio. Default model:
ViTPose-L, the largest that fits twice in this project's 24 GB machines.
"""
import argparse
import os
import os.path as osp
import resource
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as tmp

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT = osp.join(ROOT, 'configs', 'coco', 'td-hm_ViTPose-large_8xb64-210e_coco-256x192.py')


def _peak_mb(cuda: bool) -> float:
    if cuda:
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _worker(rank: int, args, mode: str, port: int, results) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    cuda = torch.cuda.is_available()
    dist.init_process_group('nccl' if cuda else 'gloo', rank=rank, world_size=args.nproc)
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // args.nproc))
    device = torch.device('cuda', rank) if cuda else torch.device('cpu')
    if cuda:
        torch.cuda.set_device(device)
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import vitpose_mm  # noqa: F401
    cfg = Config.fromfile(args.config)
    cfg.model.backbone.init_cfg = None
    cfg.model.backbone.use_checkpoint = args.checkpointing
    init_default_scope('mmpose')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).to(device).train()
    if mode == 'ddp':
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[rank] if cuda else None)
    else:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
        from vitpose_mm.engine.fsdp import vit_block_wrap_policy
        model = FSDP(model, auto_wrap_policy=vit_block_wrap_policy, use_orig_params=True, device_id=device)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    h, w = cfg.model.backbone.img_size
    x = torch.randn(args.batch, 3, h, w, device=device)
    start = time.perf_counter()
    for _ in range(args.steps):
        loss = model(x, None, mode='tensor').float().pow(2).mean()  # through the wrapper: gradients reduced
        optim.update_params(loss)
    seconds = (time.perf_counter() - start) / args.steps
    results[rank] = (_peak_mb(cuda), seconds)
    dist.destroy_process_group()


def run(args, mode: str, port: int):
    with tmp.Manager() as manager:
        out = manager.dict()
        tmp.spawn(_worker, args=(args, mode, port, out), nprocs=args.nproc, join=True)
        return dict(out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description='Peak memory per process: DDP vs FSDP training steps.')
    parser.add_argument('config', nargs='?', default=DEFAULT, help='model config (default: ViTPose-L 256x192)')
    parser.add_argument('--nproc', type=int, default=2, help='processes (GPUs on CUDA)')
    parser.add_argument('--steps', type=int, default=3, help='training steps per process')
    parser.add_argument('--batch', type=int, default=1, help='crops per process and step')
    parser.add_argument('--checkpointing', action='store_true', help='gradient checkpointing in every block')
    args = parser.parse_args(argv)
    if args.nproc < 1 or args.steps < 1 or args.batch < 1:
        parser.error('--nproc, --steps and --batch must be positive')
    if not osp.isfile(args.config):
        parser.error(f'config not found: {args.config}')
    results = {}
    for i, mode in enumerate(('ddp', 'fsdp')):
        print(f'[benchmark_sharding] {mode}: {args.nproc} processes x {args.steps} steps ...', flush=True)
        results[mode] = run(args, mode, 29700 + i)
    unit = 'MiB peak allocated (CUDA)' if torch.cuda.is_available() else 'MiB peak resident (CPU)'
    print(f'\n{osp.basename(args.config)}, batch {args.batch}/process, checkpointing {args.checkpointing}; {unit}')
    print('| rank | DDP | FSDP | FSDP / DDP | DDP s/step | FSDP s/step |\n|---|---|---|---|---|---|')
    for r in range(args.nproc):
        (d, ds), (f, fs) = results['ddp'][r], results['fsdp'][r]
        print(f'| {r} | {d:,.0f} | {f:,.0f} | {f / d:.2f} | {ds:.2f} | {fs:.2f} |')


if __name__ == '__main__':
    sys.exit(main())
