# References: mmengine 0.10.7 optim/optimizer/amp_optimizer_wrapper.py (AmpOptimWrapper.optim_context).
"""bfloat16 mixed-precision training on any device, CPU included.

mmengine 0.10.7's ``AmpOptimWrapper`` asserts at construction that CUDA (or an NPU/MLU/MUSA) is present, so it cannot
train in mixed precision on a CPU, although ``torch.autocast('cpu', torch.bfloat16)`` works there. bfloat16 has
float32's exponent range and needs no loss scaling, so this wrapper is ``OptimWrapper`` with the forward pass under
``mmengine.runner.amp.autocast`` (the runner's device: CUDA when present, else the CPU) and nothing else.
"""
import logging
from contextlib import contextmanager

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from mmengine.runner.amp import autocast

from vitpose_mm.hardware import native_bf16


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` runs the forward pass under bfloat16 autocast (no loss scale).

    Args:
        dtype: ``'bfloat16'`` (the only one: float16 needs a loss scale, which mmengine's ``AmpOptimWrapper`` has, on
            CUDA).
        **kwargs: ``OptimWrapper``'s (``optimizer``, ``accumulative_counts``, ``clip_grad``).

    Raises:
        ValueError: another ``dtype``.
    """

    def __init__(self, dtype: str = 'bfloat16', **kwargs) -> None:
        if dtype not in ('bfloat16', torch.bfloat16):
            raise ValueError(f"AutocastOptimWrapper: dtype must be 'bfloat16', got {dtype!r}; for float16 use "
                             "mmengine's AmpOptimWrapper (CUDA, with a loss scale)")
        super().__init__(**kwargs)
        self.cast_dtype = torch.bfloat16
        if not torch.cuda.is_available():  # autocast runs on the CPU: say whether it computes bf16 in hardware
            support = native_bf16()
            print_log(f'bf16 autocast on the CPU: native bfloat16 {"yes" if support.native else "no"} '
                      f'({support.reason})' + ('' if support.native else '; torch emulates it, slower than fp32 '
                                               '(docs/speed.md)'),
                      'current', logging.INFO if support.native else logging.WARNING)

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), autocast(dtype=self.cast_dtype):
            yield
