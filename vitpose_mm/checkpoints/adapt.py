# References: the official ViTPose loader (mmcv_custom/checkpoint.py, `patch_padding` 'pad' / 'bilinear' /
# 'bicubic', used to load ViT-H/14 and ViTAE-G/14 pre-training into 16x16-patch models).
"""Fitting a checkpoint's embeddings to a ViT: the patch-embedding kernel size and the position grid.

This is the one place where a state dict's ``patch_embed.proj.weight`` and ``pos_embed`` are changed to fit a model.
Every loading path goes through :func:`fit_embeddings`: the pose-checkpoint loader and converter
(:func:`vitpose_mm.checkpoints.fit_to_model`), the ``init_cfg`` loader (:mod:`vitpose_mm.checkpoints.backbone`)
and ``ViT._load_from_state_dict`` (a plain ``model.load_state_dict``).
"""
import math
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger

from vitpose_mm.models.layers.pos_embed import resample_pos_embed

PATCH_PADDING_MODES = ('pad', 'bilinear', 'bicubic')


def adapt_patch_kernel(weight: torch.Tensor, size: Sequence[int], mode: str = 'pad') -> torch.Tensor:
    """A (C_out, C_in, kh, kw) patch-embedding kernel brought to ``size`` = (h, w).

    ``pad`` (ViTPose's choice for ViT-H/14 pre-training in 16x16-patch models) puts the kernel in the centre of a
    zero kernel (an odd difference puts the extra zero row/column at the bottom/right) or, for a smaller target,
    crops its centre; ``bilinear`` and ``bicubic`` resample the kernel (``align_corners=False``), as the official
    loader's other two options.

    Raises:
        ValueError: unknown ``mode``.
    """
    if mode not in PATCH_PADDING_MODES:
        raise ValueError(f'patch_padding must be one of {PATCH_PADDING_MODES}, got {mode!r}')
    h, w = (int(s) for s in size)
    kh, kw = weight.shape[-2:]
    if (kh, kw) == (h, w):
        return weight
    if mode != 'pad':
        return F.interpolate(weight.float(), size=(h, w), mode=mode, align_corners=False).to(weight.dtype)
    dh, dw = h - kh, w - kw
    # F.pad with negative amounts crops: the same call centres a smaller kernel in a larger one and back
    return F.pad(weight, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2))


def fit_embeddings(sd: Dict[str, torch.Tensor],
                   backbone: torch.nn.Module,
                   prefix: str = '',
                   src_grid: Optional[Sequence[int]] = None,
                   recorded_grid: Optional[Sequence[int]] = None,
                   default_grid: Optional[Sequence[int]] = None,
                   patch_padding: str = 'pad',
                   what: str = 'the checkpoint',
                   reason: Optional[str] = None) -> List[str]:
    """Fit ``sd[prefix + 'patch_embed.proj.weight']`` and ``sd[prefix + 'pos_embed']`` to ``backbone`` in place.

    The kernel is adapted by :func:`adapt_patch_kernel` when its size differs from the model's; the position rows
    are resampled to the model's grid (``backbone.patch_shape``), the source grid by the rule of
    :func:`vitpose_mm.models.layers.pos_embed.source_grid` (``src_grid``, ``recorded_grid``, ``default_grid``,
    square; ``reason`` names where ``src_grid`` came from). Tensors of another width are left as they are, for
    the caller's shape check to report.

    Returns:
        the notes (also logged) saying what was changed, from what to what.
    """
    notes = []
    proj, pos = prefix + 'patch_embed.proj.weight', prefix + 'pos_embed'
    own_proj = backbone.patch_embed.proj.weight
    if proj in sd and sd[proj].dim() == 4 and sd[proj].shape[:2] == own_proj.shape[:2] \
            and sd[proj].shape[2:] != own_proj.shape[2:]:
        src = tuple(sd[proj].shape[2:])
        sd[proj] = adapt_patch_kernel(sd[proj], own_proj.shape[2:], patch_padding)
        notes.append(f'{proj}: {src[0]}x{src[1]} kernel brought to the model\'s '
                     f'{own_proj.shape[2]}x{own_proj.shape[3]} patches ({patch_padding})')
        rows = sd[pos].shape[1] - 1 if pos in sd and sd[pos].dim() == 3 else 0
        side = math.isqrt(rows)
        if rows and side * side == rows and src_grid is None and recorded_grid is None:
            # the source's grid follows from its own patch size: MAE ViT-H/14 at 224 -> 16x16, not 14x14
            notes[-1] += (f'; its position grid is {side}x{side} ({side * src[0]}x{side * src[1]} pre-training '
                          f'input / {src[0]}x{src[1]} patches)')
        MMLogger.get_current_instance().info(notes[-1])
    own_pos = backbone.pos_embed
    if pos in sd and sd[pos].dim() == 3 and sd[pos].shape[-1] == own_pos.shape[-1] and sd[pos].shape[1] > 1:
        sd[pos], note = resample_pos_embed(sd[pos], backbone.patch_shape, src_grid, recorded_grid, default_grid,
                                           name=pos, what=what, reason=reason)
        notes += [note] if note else []
    return notes


__all__ = ['PATCH_PADDING_MODES', 'adapt_patch_kernel', 'fit_embeddings']
