"""A loud warning when layer-wise lr decay was asked for but no rule saw the blocks of this package's ViT.

mmpose 1.3.2's ``LayerDecayOptimWrapperConstructor`` (the one mmpose's own ViTPose configs use) finds a block's depth
by the name ``backbone.layers.N`` (mmpretrain's ``VisionTransformer``). This package's ``ViT`` keeps the official
names ``backbone.blocks.N`` (so that official checkpoints load by name), so with that constructor every block falls
into the "rest" group with the full learning rate, silently: layer decay is lost.

The check runs once per training run, after the run has built its optimizer: :class:`LayerDecayCheckHook`
(``before_train``), which the package's runners (``ViTPoseRunner``, ``ViTPoseFlexibleRunner``) register themselves;
with mmengine's plain ``Runner`` add ``custom_hooks=[dict(type='LayerDecayCheckHook')]``. It warns
(``LayerDecayWarning`` and the mmengine log) when the optimizer's param groups carry ``lr_scale`` (a layer-decay
constructor ran), some group is decayed (``lr_scale != 1``), and yet the first and the last trainable block of a
``ViT`` in the model got the same ``lr_scale``; the message names the fix:
``constructor='ViTPoseLayerDecayOptimWrapperConstructor'``. Nothing is installed in torch or in the process.
"""
import warnings
from typing import Dict, Iterable, Optional

import torch
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapperDict
from mmengine.registry import HOOKS
from torch import nn

from vitpose_mm.models.backbones import ViT


class LayerDecayWarning(UserWarning):
    """Layer-wise lr decay was configured but did not reach this package's ViT blocks."""


@HOOKS.register_module()
class LayerDecayCheckHook(Hook):
    """Before training, warn when the run's optimizer holds layer-decay groups that missed the ViT's blocks (see
    module doc). Registered by ``ViTPoseRunner`` and ``ViTPoseFlexibleRunner``."""

    priority = 'LOWEST'

    def before_train(self, runner) -> None:
        warn_lost_layer_decay(runner.model, runner.optim_wrapper)


def warn_lost_layer_decay(model: nn.Module, optim_wrapper) -> Optional[str]:
    """Warn (``LayerDecayWarning`` and the log) when an optimizer of ``optim_wrapper`` (an mmengine ``OptimWrapper``
    or ``OptimWrapperDict``) decays layers but not the blocks of a ``ViT`` in ``model``; return the message, else
    None."""
    model = model.module if is_model_wrapper(model) else model
    wrappers = optim_wrapper.values() if isinstance(optim_wrapper, OptimWrapperDict) else [optim_wrapper]
    for wrapper in wrappers:
        message = layer_decay_problem(wrapper.optimizer, model)
        if message:
            MMLogger.get_current_instance().warning(message)
            warnings.warn(message, LayerDecayWarning, stacklevel=2)
            return message
    return None


def layer_decay_problem(optimizer: torch.optim.Optimizer, model: nn.Module) -> Optional[str]:
    """The warning text when layer decay was asked for but missed the blocks of a ``ViT`` in ``model``, else None."""
    groups = optimizer.param_groups
    if not any('lr_scale' in g for g in groups) or all(g.get('lr_scale', 1.0) == 1.0 for g in groups):
        return None  # no layer-wise rule, or one with decay rate 1: nothing to lose
    scale_of: Dict[int, float] = {id(p): g.get('lr_scale', 1.0) for g in groups for p in g['params']}
    for vit in _vits(model.modules()):
        scales = _block_scales(vit, scale_of)
        if len(scales) >= 2 and scales[0] == scales[-1]:
            return (f'layer-wise lr decay is configured (param groups carry lr_scale) but the first and the last '
                    f'block of {type(vit).__name__} ({len(vit.blocks)} blocks) got the same lr_scale '
                    f'{scales[0]:.6g}: the layer-decay rule did not see its blocks. mmpose\'s '
                    "LayerDecayOptimWrapperConstructor finds blocks named 'backbone.layers.N'; this ViT's are "
                    "'backbone.blocks.N' (the official names). Fix: optim_wrapper=dict(constructor="
                    "'ViTPoseLayerDecayOptimWrapperConstructor', paramwise_cfg=dict(num_layers="
                    f'{len(vit.blocks)}, layer_decay_rate=...)) (see docs/dropin.md)')
    return None


def _vits(modules: Iterable[nn.Module]) -> Iterable[ViT]:
    return (m for m in modules if isinstance(m, ViT))


def _block_scales(vit: ViT, scale_of: Dict[int, float]) -> list:
    """The lr_scale of each block's first parameter that the optimizer holds (blocks without one are skipped)."""
    scales = []
    for block in vit.blocks:
        held = [scale_of[id(p)] for p in block.parameters() if id(p) in scale_of]
        if held:
            scales.append(held[0])
    return scales
