"""The loader as mmengine weight initializers, so that configs and models name it by type, never import it.

- ``init_cfg=dict(type='ViTPosePretrained', checkpoint=PATH[, prefix, src_grid, patch_padding])`` on a ``ViT``:
  pre-training (MAE/timm, mmpretrain) or ViTPose backbone weights, strictly, through :func:`.load.load` (grid
  resampled, patch kernel adapted, every dropped key named in the log). mmengine's own ``Pretrained`` loads
  non-strictly and would drop keys silently; ``ViT`` refuses it.
- ``dict(type='ViTPoseCheckpoint', checkpoint=PATH, **load options)``: a whole pose model through :func:`.load.load`
  (the distiller's teacher: ``resample=False``). Every submodule is then marked initialised, so that a later
  ``init_weights()`` keeps the loaded weights.

Both are registered in mmengine's root ``WEIGHT_INITIALIZERS`` (mmengine's ``initialize`` and every
``BaseModule.init_weights`` find them from any scope). ``read_state_dict`` is registered in mmengine's ``FUNCTIONS``
for models that need one tensor of a file at construction (the distiller's stage-1 token).
"""
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model.weight_init import update_init_info
from mmengine.registry import FUNCTIONS, WEIGHT_INITIALIZERS

from .adapt import PATCH_PADDING_MODES
from .io import read_checkpoint, state_dict_of
from .loading import load


class _LoadInit:
    """Shared by the initializers: ``wholemodule`` is set by mmengine's ``initialize`` and not used here."""
    wholemodule = False

    def __init__(self, checkpoint: str, **options):
        if not checkpoint:
            raise ValueError(f'{type(self).__name__} needs checkpoint=PATH')
        self.checkpoint = checkpoint
        self.options = options

    def _get_init_info(self) -> str:
        return f'{type(self).__name__}: load from {self.checkpoint}'

    def _done(self, module: nn.Module) -> None:
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())


@WEIGHT_INITIALIZERS.register_module(name='ViTPosePretrained')
class ViTPosePretrainedInit(_LoadInit):
    """Pre-training or backbone weights into a ``ViT`` (see the module docstring).

    Args:
        checkpoint: the file (MAE/timm, mmpretrain, ViTPose or this package's layout).
        prefix: the backbone's key prefix in the file (default ``backbone.`` when present, else none).
        src_grid: the (h, w) position grid of the weights when the file cannot say (a non-square grid).
        patch_padding: ``pad`` (default), ``bilinear`` or ``bicubic``: weights of another patch size.
        map_location: accepted for mmengine's ``Pretrained`` spelling; tensors are always read on the CPU.

    Raises:
        ValueError: unknown ``patch_padding``; at ``__call__``: TypeError for a module that is not a ``ViT``, and
        the errors of :func:`.load.load`.
    """

    def __init__(self, checkpoint: str, prefix: Optional[str] = None, src_grid: Optional[Sequence[int]] = None,
                 patch_padding: str = 'pad', map_location: Any = None):
        if patch_padding not in PATCH_PADDING_MODES:
            raise ValueError(f'patch_padding must be one of {PATCH_PADDING_MODES}, got {patch_padding!r}')
        super().__init__(checkpoint, prefix=prefix, src_grid=src_grid, patch_padding=patch_padding)

    def __call__(self, module: nn.Module) -> None:
        if not hasattr(module, 'patch_shape') or hasattr(module, 'backbone'):
            raise TypeError(f'ViTPosePretrained initialises a ViT backbone, not a {type(module).__name__}; for a '
                            "whole model use load_from or init_cfg=dict(type='ViTPoseCheckpoint', checkpoint=...)")
        load(module, self.checkpoint, **self.options)
        self._done(module)


@WEIGHT_INITIALIZERS.register_module(name='ViTPoseCheckpoint')
class ViTPoseCheckpointInit(_LoadInit):
    """A whole model from a checkpoint of any layout through :func:`.load.load` (keyword options: those of
    ``load``, e.g. ``resample=False``, ``allow_missing``, ``dataset``, ``config``)."""

    def __call__(self, module: nn.Module) -> None:
        load(module, self.checkpoint, **self.options)
        for m in list(module.modules())[1:]:  # the file brought every weight: init_weights must not redo them
            if hasattr(m, '_is_init'):
                m._is_init = True
        self._done(module)


@FUNCTIONS.register_module(name='vitpose_read_state_dict')
def read_state_dict(path: str) -> Tuple[Dict[str, Any], Dict[str, torch.Tensor]]:
    """(the whole checkpoint, its tensors without ``module.``) of a file, read as :func:`.io.read_checkpoint` does
    (weights only, never code)."""
    ckpt = read_checkpoint(path)
    return ckpt, state_dict_of(ckpt, path)


__all__ = ['ViTPosePretrainedInit', 'ViTPoseCheckpointInit', 'read_state_dict']
