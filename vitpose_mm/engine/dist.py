"""Distributed training on machines without CUDA (gloo), through mmengine's own launcher path.

mmengine 0.10.7's ``mmengine.dist.utils._init_dist_pytorch`` calls ``torch.cuda.set_device(local_rank)`` before it
creates the process group, whatever the backend: ``--launcher pytorch`` then dies on a CPU-only machine ("Torch not
compiled with CUDA enabled" / "no CUDA GPUs are available"), and the shipped configs ask for ``nccl``, which needs
CUDA too. This module is the one place that works around it: without CUDA the process group is created with gloo and
no device is selected; with CUDA mmengine's own function runs unchanged. The replacement holds only while a runner
is built by the package's launch path (:func:`cpu_distributed`), never at import.
"""
import contextlib
from typing import Iterator

import torch
import torch.distributed as torch_dist
from mmengine.dist import utils as mmengine_dist_utils
from mmengine.logging import MMLogger


@contextlib.contextmanager
def cpu_distributed() -> Iterator[None]:
    """Within the block, ``mmengine.dist.init_dist('pytorch', ...)`` also runs without CUDA (gloo); on leaving it,
    mmengine's own ``_init_dist_pytorch`` is back. On a machine with CUDA nothing changes.

    The package's launch path (:func:`vitpose_mm.engine.launch.build_runner`, used by ``tools/train.py``,
    ``tools/test.py`` and ``mim train/test``) builds its runner in this block: mmengine's runner creates the process
    group while it is built. Nothing else in the process is changed.
    """
    original = mmengine_dist_utils._init_dist_pytorch
    if torch.cuda.is_available():
        yield
        return

    def _init_dist_pytorch(backend, init_backend='torch', **kwargs) -> None:
        if init_backend != 'torch':
            return original(backend, init_backend, **kwargs)
        if backend != 'gloo':
            MMLogger.get_current_instance().warning(
                f'no CUDA device: using the gloo backend instead of {backend!r} for distributed training')
        torch_dist.init_process_group(backend='gloo', **kwargs)

    mmengine_dist_utils._init_dist_pytorch = _init_dist_pytorch
    try:
        yield
    finally:
        mmengine_dist_utils._init_dist_pytorch = original


def cpu_ddp_wrapper_cfg(cfg) -> dict:
    """The DDP wrapper config for CPU processes (gloo).

    mmengine 0.10.7's ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]`` to DistributedDataParallel, which
    torch refuses for a module on the CPU; an explicit ``device_ids=None`` in the wrapper config takes precedence.
    """
    return dict(type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
                find_unused_parameters=cfg.get('find_unused_parameters', False))
