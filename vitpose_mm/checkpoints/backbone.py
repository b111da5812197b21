"""Initialising the ViT backbone from pre-training weights (MAE/timm or mmpretrain names) or ViTPose weights."""
import re
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from vitpose_mm.models.backbones.pos_embed import infer_grid_shape, resize_pos_embed
from vitpose_mm.models.layers import is_relative_position_key
from .io import load_file, state_dict_of
from .layouts import MMPRETRAIN_PRETRAIN, to_vitpose_mm

# Keys of pre-training checkpoints that ViTPose does not use, with the reason (first match wins).
DROPPED_PRETRAIN_KEYS: List[Tuple[str, str]] = [
    (r'^cls_token$', 'ViTPose has no class token (its position row is kept in pos_embed)'),
    (r'^(norm|fc_norm)\.', 'final norm of the pre-training encoder: ViTPose trains last_norm from its own init, '
     'as the official code does'),
    (r'^(decoder|mask_token|head\.|neck\.)', 'pre-training decoder or classifier'),
]


def detect_backbone_layout(sd: Dict[str, torch.Tensor]) -> str:
    """'vitpose' (ViTPose/MAE/timm names: blocks.i.norm1) or 'mmpretrain' (layers.i.ln1)."""
    if any(re.match(r'^blocks\.\d+\.norm1\.', k) for k in sd):
        return 'vitpose'
    if any(re.match(r'^layers\.\d+\.ln1\.', k) for k in sd):
        return 'mmpretrain'
    raise ValueError('not a ViT checkpoint in a known layout (MAE/timm/ViTPose "blocks.N.norm1" or mmpretrain '
                     f'"layers.N.ln1"); first keys: {sorted(sd)[:6]}')


def _strip_prefix(sd: Dict[str, torch.Tensor], prefix: Optional[str], dropped: Dict[str, str]):
    if prefix is None:  # a whole pose/pre-training model: keep its backbone
        prefix = next((p for p in ('module.backbone.', 'backbone.', 'module.') if any(k.startswith(p) for k in sd)),
                      '')
    out = {}
    for k, v in sd.items():
        if k.startswith(prefix):
            out[k[len(prefix):]] = v
        else:
            dropped[k] = f'outside the backbone prefix {prefix!r}'
    return out


def convert_backbone_state_dict(sd: Dict[str, torch.Tensor], model: nn.Module, prefix: Optional[str] = None):
    """Map a backbone state dict to ``model``'s (a ``ViT``) names and grid.

    Returns ``(state_dict, dropped)`` where ``dropped`` maps every unused source key to the reason.
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
        reason = next((r for p, r in DROPPED_PRETRAIN_KEYS if re.match(p, k)), None)
        if reason is None:
            raise KeyError(f'checkpoint key {k!r} has no place in {type(model).__name__} '
                           f'(depth {getattr(model, "depth", "?")}); is it a checkpoint of another model size?')
        dropped[k] = reason
    if 'pos_embed' in out:
        pos = out['pos_embed']
        if pos.shape[1] != own['pos_embed'].shape[1]:
            has_cls_row = 'cls_token' in sd or layout == 'vitpose'
            if not has_cls_row:  # mmpretrain with_cls_token=False: patch rows only
                pos = torch.cat([pos.new_zeros(1, 1, pos.shape[2]), pos], dim=1)
            src = infer_grid_shape(pos.shape[1] - 1, model.patch_shape)
            out['pos_embed'] = resize_pos_embed(pos, src, model.patch_shape, num_extra_tokens=1)
    for k, v in out.items():
        if v.shape != own[k].shape:
            raise ValueError(f'shape mismatch for {k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}')
    return out, dropped


def load_backbone_weights(model: nn.Module, path: str, prefix: Optional[str] = None) -> None:
    """Load pre-training or ViTPose backbone weights into a ``ViT`` strictly; log what was dropped and why.

    Only ``last_norm`` (pre-training checkpoints have none that ViTPose uses), ``extra_tokens`` (set by a
    distiller or learned from their random init) and window attention's ``rel_pos_h``/``rel_pos_w`` (zeros) may be
    missing; any other missing or surplus key is an error that
    names it.
    """
    logger = MMLogger.get_current_instance()
    sd, dropped = convert_backbone_state_dict(state_dict_of(load_file(path), path), model, prefix)
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    # window attention's relative-position tables (issue 9) are in no plain checkpoint: they keep their zero init
    not_allowed = [k for k in missing if not k.startswith('last_norm.') and k != 'extra_tokens'
                   and not is_relative_position_key(k)]
    if not_allowed:
        raise KeyError(f'{path} lacks backbone weights {not_allowed[:8]}{" ..." if len(not_allowed) > 8 else ""}')
    model.load_state_dict({**{k: own[k] for k in missing}, **sd}, strict=True)
    logger.info(f'loaded {len(sd)} backbone tensors from {path}; kept initial values of {missing or "nothing"}')
    for reason in sorted(set(dropped.values())):
        keys = [k for k, r in dropped.items() if r == reason]
        logger.info(f'  dropped {len(keys)} keys ({", ".join(keys[:4])}{", ..." if len(keys) > 4 else ""}): '
                    f'{reason}')
