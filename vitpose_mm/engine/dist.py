"""Distributed training on machines without CUDA (gloo), through mmengine's own launcher path.

mmengine 0.10.7's ``mmengine.dist.utils._init_dist_pytorch`` calls ``torch.cuda.set_device(local_rank)`` before it
creates the process group, whatever the backend: ``--launcher pytorch`` then dies on a CPU-only machine ("Torch not
compiled with CUDA enabled" / "no CUDA GPUs are available"), and the shipped configs ask for ``nccl``, which needs
CUDA too. This module is the one place that works around it: without CUDA the process group is created with gloo and
no device is selected; with CUDA mmengine's own function runs unchanged.
"""
import torch
import torch.distributed as torch_dist
from mmengine.logging import MMLogger


def allow_cpu_distributed() -> None:
    """Let ``mmengine.dist.init_dist('pytorch', ...)`` run without CUDA (idempotent; CUDA machines unaffected)."""
    from mmengine.dist import utils
    original = utils._init_dist_pytorch
    if getattr(original, '_vitpose_mm_cpu_ok', False):
        return

    def _init_dist_pytorch(backend, init_backend='torch', **kwargs) -> None:
        if torch.cuda.is_available() or init_backend != 'torch':
            return original(backend, init_backend, **kwargs)
        if backend != 'gloo':
            MMLogger.get_current_instance().warning(
                f'no CUDA device: using the gloo backend instead of {backend!r} for distributed training')
        torch_dist.init_process_group(backend='gloo', **kwargs)

    _init_dist_pytorch._vitpose_mm_cpu_ok = True
    utils._init_dist_pytorch = _init_dist_pytorch


def cpu_ddp_wrapper_cfg(cfg) -> dict:
    """The DDP wrapper config for CPU processes (gloo).

    mmengine 0.10.7's ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]`` to DistributedDataParallel, which
    torch refuses for a module on the CPU; an explicit ``device_ids=None`` in the wrapper config takes precedence.
    """
    return dict(type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
                find_unused_parameters=cfg.get('find_unused_parameters', False))
