"""Initialising the ViT backbone from pre-training weights (MAE/timm or mmpretrain names) or ViTPose weights."""
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from .adapt import PATCH_PADDING_MODES, fit_embeddings
from .convert import CheckpointMismatchError
from .diagnose import describe_checkpoint, fix_for_kind, mismatch_message
from .io import load_file, recorded_grid, state_dict_of
from .layouts import MMPRETRAIN_PRETRAIN, add_zero_cls_row, to_vitpose_mm
from vitpose_mm.models.layers import is_relative_position_key

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


INIT_CFG_KEYS = ('type', 'checkpoint', 'prefix', 'map_location', 'src_grid', 'patch_padding')


def load_backbone_weights(model: nn.Module, path: str, prefix: Optional[str] = None,
                          src_grid: Optional[Sequence[int]] = None, patch_padding: str = 'pad') -> None:
    """Load pre-training or ViTPose backbone weights into a ``ViT`` strictly; log what was dropped and why.

    Only ``last_norm`` (pre-training checkpoints have none that ViTPose uses) and ``extra_tokens`` (set by a
    distiller or learned from their random init) may be missing; any other missing or surplus key is an error that
    names it. A kernel of another patch size is adapted (``patch_padding``), the position grid resampled (the source
    grid: ``src_grid``, the file's recorded grid, or a square number of rows). Nothing is loaded unless all fits.
from vitpose_mm.models.layers import is_relative_position_key
    """
    if patch_padding not in PATCH_PADDING_MODES:
        raise ValueError(f'init_cfg patch_padding must be one of {PATCH_PADDING_MODES}, got {patch_padding!r}')
    logger = MMLogger.get_current_instance()
    obj = load_file(path)
    raw = state_dict_of(obj, path)
    try:
        sd, dropped, _ = convert_backbone_state_dict(raw, model, prefix, src_grid, recorded_grid(obj),
                                                     patch_padding, source=path)
    except (KeyError, ValueError) as e:
        kind = describe_checkpoint(raw, obj.get('meta') if isinstance(obj, dict) else None)
        if kind.kind not in ('vitpose+', 'distill'):  # the message of the error says it all
            raise
        reason = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        raise CheckpointMismatchError(mismatch_message(
            path, kind.describe(), f'a plain {type(model).__name__} backbone (init_cfg)',
            fix_for_kind(kind, path, model, None), reason=reason)) from e
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    # window attention's relative-position tables are in no plain checkpoint: they keep their zero init
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


def load_backbone_init_cfg(model: nn.Module, cfg: dict) -> None:
    """``init_cfg=dict(type='Pretrained', checkpoint=PATH[, prefix, src_grid, patch_padding])`` of a ``ViT``."""
    unknown = set(cfg) - set(INIT_CFG_KEYS)
    if unknown:
        raise ValueError(f'unknown keys {sorted(unknown)} in ViT init_cfg {cfg}; accepted: {list(INIT_CFG_KEYS)}')
    load_backbone_weights(model, cfg['checkpoint'], prefix=cfg.get('prefix'), src_grid=cfg.get('src_grid'),
                          patch_padding=cfg.get('patch_padding', 'pad'))
