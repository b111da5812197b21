"""Pre-training weights (MAE/timm or mmpretrain names) or ViTPose backbone weights in a ``ViT``'s names: the
``mae`` layout of :func:`vitpose_mm.checkpoints.conversion.convert` (pure: nothing is read or loaded here)."""
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .adapt import fit_embeddings
from .layouts import MMPRETRAIN_PRETRAIN, add_zero_cls_row, to_vitpose_mm

# Keys of pre-training checkpoints that ViTPose does not use, with the reason (first match wins).
DROPPED_PRETRAIN_KEYS: List[Tuple[str, str]] = [
    (r'^cls_token$', 'ViTPose has no class token (its position row is kept in pos_embed)'),
    (r'^(norm|fc_norm)\.', 'final norm of the pre-training encoder: ViTPose trains last_norm from its own init, '
     'as the official code does'),
    (r'^(neck\.|decoder|mask_token)', 'MAE pre-training decoder (mmpretrain neck, or MAE decoder_* and mask_token)'),
    (r'^head\.', 'pre-training head or classifier'),
]


def _drop_reason(key: str) -> Optional[str]:
    return next((r for p, r in DROPPED_PRETRAIN_KEYS if re.match(p, key)), None)


def detect_backbone_layout(sd: Dict[str, torch.Tensor]) -> str:
    """'vitpose' (ViTPose/MAE/timm names: blocks.i.norm1) or 'mmpretrain' (layers.i.ln1)."""
    if any(re.match(r'^blocks\.\d+\.norm1\.', k) for k in sd):
        return 'vitpose'
    if any(re.match(r'^layers\.\d+\.ln1\.', k) for k in sd):
        return 'mmpretrain'
    raise ValueError('not a ViT checkpoint in a known layout (MAE/timm/ViTPose "blocks.N.norm1" or mmpretrain '
                     f'"layers.N.ln1"); first keys: {sorted(sd)[:6]}')


def _strip_prefix(sd: Dict[str, torch.Tensor], prefix: Optional[str], dropped: Dict[str, str]):
    if prefix is None:  # a whole pose/pre-training model: keep its backbone (``module.`` is gone: state_dict_of)
        prefix = 'backbone.' if any(k.startswith('backbone.') for k in sd) else ''
    out = {}
    for k, v in sd.items():
        if k.startswith(prefix):
            out[k[len(prefix):]] = v
        else:  # e.g. the decoder of a pre-training checkpoint (vitpose_mm.models.mae: ``neck.*``)
            dropped[k] = _drop_reason(k) or f'outside the backbone prefix {prefix!r}'
    return out


def convert_backbone_state_dict(sd: Dict[str, torch.Tensor], model: nn.Module, prefix: Optional[str] = None,
                                src_grid: Optional[Sequence[int]] = None,
                                recorded: Optional[Sequence[int]] = None, patch_padding: str = 'pad',
                                source: str = 'the checkpoint'):
    """Map a backbone state dict to ``model``'s (a ``ViT``) names, patch size and grid.

    The patch kernel and position grid are fitted by :func:`vitpose_mm.checkpoints.adapt.fit_embeddings`:
    ``patch_padding`` ('pad', 'bilinear', 'bicubic') for pre-training of another patch size (ViT-H/14),
    ``src_grid`` / ``recorded`` for the source grid (else a square number of rows is a square grid; other
    counts need one of them).

    Returns ``(state_dict, dropped, notes)``: ``dropped`` maps every unused source key to the reason, ``notes`` say
    what was changed.
    """
    dropped: Dict[str, str] = {}
    sd = _strip_prefix(sd, prefix, dropped)
    layout = detect_backbone_layout(sd)
    if layout == 'mmpretrain':  # rename by the shared table (vitpose_mm.checkpoints.layouts)
        sd = to_vitpose_mm(sd, MMPRETRAIN_PRETRAIN).state_dict
    own = model.state_dict()
    out = {}
    for k, v in sd.items():
        if k in own:
            out[k] = v
            continue
        reason = _drop_reason(k)
        if reason is None:
            raise KeyError(f'checkpoint key {k!r} has no place in {type(model).__name__} '
                           f'(depth {getattr(model, "depth", "?")}); is it a checkpoint of another model size?')
        dropped[k] = reason
    pos = out.get('pos_embed')
    if pos is not None and pos.dim() == 3 and 'cls_token' not in sd and layout == 'mmpretrain':
        out['pos_embed'] = add_zero_cls_row(pos)  # mmpretrain with_cls_token=False: patch rows only
    notes = fit_embeddings(out, model, '', src_grid, recorded, patch_padding=patch_padding, what=source)
    for k, v in out.items():
        if v.shape != own[k].shape:
            raise ValueError(f'shape mismatch for {k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}')
    return out, dropped, notes


__all__ = ['DROPPED_PRETRAIN_KEYS', 'convert_backbone_state_dict', 'detect_backbone_layout']
