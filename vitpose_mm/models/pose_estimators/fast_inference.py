# References: mmpose 1.3.2 TopdownPoseEstimator.predict (flip test), torch.autocast / nn.Module.compile docs.
"""Opt-in fast inference for a top-down pose model: half precision, ``torch.compile``, flip test in one batch.

Three switches, each measured by ``tools/benchmark.py`` and checked against fp32 by
``tests/models/test_fast_inference.py`` (docs/speed.md):

- ``precision``: ``'fp32'`` (default, nothing changes), ``'bf16'`` (CPU and CUDA) or ``'fp16'`` (CUDA only). The
  backbone, neck and head are converted to that dtype ("pure" half precision: on this project's CPU it ran faster
  than ``torch.autocast``, and on an H200 too, see docs/speed.md) and the backbone casts its input to it. The head
  returns float32 heatmaps, so everything after it (flip averaging, decoding, numpy) runs in fp32. The data
  preprocessor stays fp32.
- ``compile``: ``torch.compile`` of the backbone and of the head's layers (``nn.Module.compile``, in place: the
  parameter names and checkpoints do not change). The first call compiles (tens of seconds on a CPU).
- flip test in one batch: mmpose's ``TopdownPoseEstimator.predict`` runs the backbone twice (the crops, then the
  flipped crops); :func:`enable_fast_inference` sets ``test_cfg.batch_flip=True``, with which
  :class:`~vitpose_mm.models.pose_estimators.BatchFlipTopdownPoseEstimator` (the shipped configs' estimator) runs the
  crops and their mirror images through the backbone as one batch of 2B. Other estimators keep their ``predict``.

Inference only: convert a copy, not a model you go on training.
"""
import logging
from typing import Callable, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

from vitpose_mm.hardware import native_bf16

from .batch_flip_topdown import BatchFlipTopdownPoseEstimator

PRECISIONS = ('fp32', 'bf16', 'fp16')
DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def precision_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The torch dtype of ``precision`` on ``device``.

    Raises:
        ValueError: ``precision`` is not one of ``PRECISIONS``, or is ``'fp16'`` on a device other than CUDA (the
            CPU's half precision is bfloat16).
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {list(PRECISIONS)}, got {precision!r}')
    if precision == 'fp16' and torch.device(device).type != 'cuda':
        raise ValueError(f"precision='fp16' needs a CUDA device (the model is on {device}); on the CPU use "
                         "'bf16' or 'fp32'")
    return DTYPES[precision]


def _cast_input(dtype: torch.dtype) -> Callable:
    def hook(module: nn.Module, args: Tuple) -> Tuple:
        return (args[0].to(dtype), *args[1:])
    return hook


def enable_fast_inference(model: nn.Module, precision: str = 'fp32', compile: Union[bool, str] = False,
                          batch_flip: bool = True) -> nn.Module:
    """Turn on the fast paths of a top-down pose model in place and return it (in eval mode).

    Args:
        model: an mmpose top-down pose estimator (``backbone``, optional ``neck``, ``head``), on its device.
        precision: one of ``PRECISIONS``; see the module docstring.
        compile: ``torch.compile`` the backbone and the head's layers: True for inductor (the default backend),
            or a backend name (e.g. ``'aot_eager'``: quick to build, for tests).
        batch_flip: run the flip test's two views as one batch (``test_cfg.batch_flip``; a
            ``BatchFlipTopdownPoseEstimator`` only, other estimators keep their own ``predict``).

    Raises:
        ValueError: a bad ``precision`` (see :func:`precision_dtype`), or fast inference enabled twice with other
            settings (convert a fresh model instead).
    """
    if not isinstance(compile, (bool, str)):
        raise ValueError(f'compile must be True, False or a torch.compile backend name, got {compile!r}')
    backend = 'inductor' if compile is True else compile
    device = next(model.parameters()).device
    dtype = precision_dtype(precision, device)
    batch_flip = bool(batch_flip) and isinstance(model, BatchFlipTopdownPoseEstimator)
    settings = dict(precision=precision, compile=compile, batch_flip=batch_flip)
    done = getattr(model, 'fast_inference', None)
    if done is not None:
        if done != settings:
            raise ValueError(f'fast inference is already enabled with {done}; build a fresh model for {settings}')
        return model
    model.eval()
    parts = [getattr(model, name) for name in ('backbone', 'neck', 'head') if getattr(model, name, None) is not None]
    if dtype == torch.bfloat16 and device.type == 'cpu' and not native_bf16().native:
        print_log(f'precision=bf16 on a CPU without native bfloat16 ({native_bf16().reason}): '
                  'torch emulates it, far slower than fp32 (docs/speed.md)', 'current', logging.WARNING)
    if dtype != torch.float32:
        for part in parts:
            part.to(dtype)
        model.backbone.register_forward_pre_hook(_cast_input(dtype))
    if compile:
        model.backbone.compile(backend=backend)
        if getattr(model, 'neck', None) is not None:
            model.neck.compile(backend=backend)
        # HeatmapHead.predict calls `self.forward`, not `self(...)`: compile the layers it runs
        for name in ('deconv_layers', 'conv_layers', 'final_layer'):
            layer = getattr(model.head, name, None)
            if isinstance(layer, nn.Module):
                layer.compile(backend=backend)
    if batch_flip:
        model.test_cfg['batch_flip'] = True
    model.fast_inference = settings
    return model


def fast_inference_options(test_cfg: Optional[dict]) -> dict:
    """``precision`` and ``compile`` from a model's ``test_cfg`` (absent: ``'fp32'`` and False)."""
    test_cfg = test_cfg or {}
    return dict(precision=test_cfg.get('precision', 'fp32'), compile=test_cfg.get('compile', False))


__all__ = ['PRECISIONS', 'enable_fast_inference', 'fast_inference_options', 'precision_dtype']
