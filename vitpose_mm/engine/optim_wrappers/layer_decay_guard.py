"""A loud warning when layer-wise lr decay was asked for but no rule saw the blocks of this package's ViT.

mmpose 1.3.2's ``LayerDecayOptimWrapperConstructor`` (the one mmpose's own ViTPose configs use) finds a block's depth
by the name ``backbone.layers.N`` (mmpretrain's ``VisionTransformer``). This package's ``ViT`` keeps the official
names ``backbone.blocks.N`` (so that official checkpoints load by name), so with that constructor every block falls
into the "rest" group with the full learning rate, silently: layer decay is lost.

The guard: every ``ViT`` registers itself (weakly); a global optimizer step pre-hook looks once, at the first step
of each optimizer, whether the optimizer's param groups carry ``lr_scale`` (a layer-decay constructor ran), some
group is decayed (``lr_scale != 1``), and yet the first and the last trainable block of a watched ``ViT`` got the
same ``lr_scale``. Then it warns (``LayerDecayWarning`` and the mmengine log), naming the fix:
``constructor='ViTPoseLayerDecayOptimWrapperConstructor'``.
"""
import warnings
import weakref
from typing import Any, Dict, Optional

import torch
from mmengine.logging import MMLogger
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

_WATCHED: 'weakref.WeakSet[nn.Module]' = weakref.WeakSet()
_CHECKED: 'weakref.WeakSet[torch.optim.Optimizer]' = weakref.WeakSet()
_HOOK: Optional[Any] = None


class LayerDecayWarning(UserWarning):
    """Layer-wise lr decay was configured but did not reach this package's ViT blocks."""


def watch_layer_decay(vit: nn.Module) -> None:
    """Check, at the first step of every optimizer, that layer decay reached ``vit.blocks`` (see module doc)."""
    global _HOOK
    _WATCHED.add(vit)
    if _HOOK is None:
        _HOOK = register_optimizer_step_pre_hook(_check_on_first_step)


def _check_on_first_step(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
    if optimizer in _CHECKED:
        return
    _CHECKED.add(optimizer)
    message = layer_decay_problem(optimizer)
    if message:
        MMLogger.get_current_instance().warning(message)
        warnings.warn(message, LayerDecayWarning, stacklevel=3)


def layer_decay_problem(optimizer: torch.optim.Optimizer) -> Optional[str]:
    """The warning text when layer decay was asked for but missed a watched ViT's blocks, else None."""
    groups = optimizer.param_groups
    if not any('lr_scale' in g for g in groups) or all(g.get('lr_scale', 1.0) == 1.0 for g in groups):
        return None  # no layer-wise rule, or one with decay rate 1: nothing to lose
    scale_of: Dict[int, float] = {id(p): g.get('lr_scale', 1.0) for g in groups for p in g['params']}
    for vit in list(_WATCHED):
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


def _block_scales(vit: nn.Module, scale_of: Dict[int, float]) -> list:
    """The lr_scale of each block's first parameter that the optimizer holds (blocks without one are skipped)."""
    scales = []
    for block in vit.blocks:
        held = [scale_of[id(p)] for p in block.parameters() if id(p) in scale_of]
        if held:
            scales.append(held[0])
    return scales
