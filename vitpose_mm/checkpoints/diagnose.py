"""Saying in words what a checkpoint is, what the model expects, and the exact fix, when the two do not fit.

Used by every loading path (:func:`vitpose_mm.checkpoints.load_checkpoint`, :func:`fit_to_model`, the ``init_cfg``
loader): the runner's ``load_from`` / ``--resume`` / ``--checkpoint``, ``tools/test.py``, ``tools/demo.py``,
``PoseEstimator`` and the distiller's teacher. Key lists are long and say little to a user: they are grouped
(``backbone.blocks.N.mlp.fc2.*``) unless ``verbose`` is set (argument, or the environment variable
``VITPOSE_MM_VERBOSE=1``), and always logged at debug level.
"""
import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.logging import MMLogger

from .arch import STANDARD_SIZES, Arch, shipped_config
from .layouts import DATASETS, detect_layout

VERBOSE_ENV = 'VITPOSE_MM_VERBOSE'
_POSE_HEAD = re.compile(r'^(keypoint_head|head)\.(final_layer|deconv_layers|conv|deconv1)\.')
_CLASSIC = re.compile(r'^(keypoint_head|head)\.(deconv_layers\.0|deconv1)\.weight$')
_EXPERT = re.compile(r'(?:^|\.)experts\.(\d+)\.')
_EXTRA_HEAD = re.compile(r'^associate_keypoint_heads\.(\d+)\.')
_BLOCK = re.compile(r'(?:^|\.)(?:blocks|layers|layer)\.(\d+)\.')


def verbose_wanted(verbose: Optional[bool] = None) -> bool:
    return bool(verbose) if verbose is not None else os.environ.get(VERBOSE_ENV, '') not in ('', '0')


@dataclass
class CheckpointKind:
    """What a checkpoint is, read off its keys, shapes and ``meta`` (no conversion needed)."""
    kind: str  # 'pose', 'vitpose+', 'pretrain', 'backbone', 'distill' or 'unknown'
    layout: Optional[str] = None
    experts: int = 0
    heads: int = 0
    decoder: Optional[str] = None  # 'classic' / 'simple' / None (no pose head)
    embed_dim: Optional[int] = None
    depth: int = 0
    patch: Optional[Sequence[int]] = None
    patch_rows: Optional[int] = None
    grid: Optional[Sequence[int]] = None  # recorded by the checkpoint

    @property
    def size(self) -> Optional[str]:
        std = STANDARD_SIZES.get((self.embed_dim, self.depth))
        return std[0] if std else None

    def describe(self) -> str:
        what = {'pose': 'a pose checkpoint', 'vitpose+': 'a ViTPose+ (multi-dataset) checkpoint',
                'pretrain': 'pre-training weights (e.g. MAE; no pose head)',
                'backbone': 'a backbone-only checkpoint (no pose head; e.g. pre-training weights the converter '
                'already wrote for init_cfg)',
                'distill': 'a distillation (KnowledgeTokenDistiller) checkpoint',
                'unknown': 'not a ViTPose checkpoint in any known layout'}[self.kind]
        parts = [what + (f' in the {self.layout} layout' if self.layout and self.kind != 'unknown' else '')]
        if self.embed_dim:
            size = f'ViT-{self.size[0].upper()} ' if self.size else 'ViT '
            parts.append(f'{size}(embed {self.embed_dim}, depth {self.depth}'
                         + (f', {self.patch[0]}x{self.patch[1]} patches' if self.patch else '') + ')')
        if self.experts > 1 or self.heads > 1:
            names = [n for n, (i, _) in DATASETS.items() if i < max(self.experts, self.heads)]
            parts.append(f'{self.experts} experts and {self.heads} heads (datasets {", ".join(names)})')
        if self.decoder:
            parts.append(f'{self.decoder} decoder')
        if self.grid:
            parts.append(f'position grid {self.grid[0]}x{self.grid[1]} (recorded)')
        elif self.patch_rows:
            parts.append(f'{self.patch_rows} position rows' + (' (16x12, 256x192 as released)' if
                                                               self.patch_rows == 192 else ''))
        return ', '.join(parts)


def describe_checkpoint(sd: Dict[str, torch.Tensor], meta: Optional[dict] = None) -> CheckpointKind:
    """Classify a checkpoint's tensors (any layout) without converting them."""
    keys = list(sd)
    try:
        layout = detect_layout(keys)
    except ValueError:
        layout = None
    ours = (meta or {}).get('vitpose_mm') if isinstance(meta, dict) else None
    ours = ours if isinstance(ours, dict) else {}
    pos = next((v for k, v in sd.items() if k.endswith(('pos_embed', 'position_embeddings')) and v.dim() == 3), None)
    proj = next((v for k, v in sd.items() if k.endswith(('patch_embed.proj.weight', 'projection.weight'))
                 and v.dim() == 4), None)
    rows = None
    if pos is not None:
        no_cls_row = layout == 'mmpose' or (layout == 'mae' and not any(k.endswith('cls_token') for k in keys))
        rows = pos.shape[1] - (0 if no_cls_row else 1)
    pose_head = layout != 'mae' and any(_POSE_HEAD.match(k) for k in keys)
    experts = len({m.group(1) for k in keys for m in [_EXPERT.search(k)] if m})
    extra_heads = len({m.group(1) for k in keys for m in [_EXTRA_HEAD.match(k)] if m})
    if any(k in ('knowledge_token', 'token_proj.weight') or k.startswith('teacher.') for k in keys):
        kind = 'distill'
    elif ours.get('layout') == 'mae' or (pos is not None and not pose_head and all(k.startswith('backbone.')
                                                                                    for k in keys)):
        kind = 'backbone'
    elif layout == 'mae' or (pos is not None and not pose_head):
        kind = 'pretrain'
    elif experts > 1 or extra_heads:
        kind = 'vitpose+'
    elif pose_head:
        kind = 'pose'
    else:
        kind = 'unknown'
    grid = ours.get('grid')
    return CheckpointKind(
        kind=kind, layout=layout, experts=experts, heads=(1 + extra_heads) if pose_head else 0,
        decoder=('classic' if any(_CLASSIC.match(k) for k in keys) else 'simple') if pose_head else None,
        embed_dim=int(pos.shape[-1]) if pos is not None else None,
        depth=len({m.group(1) for k in keys for m in [_BLOCK.search(k)] if m}),
        patch=tuple(proj.shape[2:]) if proj is not None else None, patch_rows=rows,
        grid=tuple(grid) if grid is not None else None)


def describe_model(model: torch.nn.Module) -> str:
    """A pose model as the diagnosis names it: backbone dims, experts, grid, decoder, keypoints."""
    from .arch import arch_of_model, infer_arch
    try:
        return infer_arch(model.state_dict(), **arch_of_model(model)).describe()
    except (KeyError, AttributeError, IndexError, TypeError):
        return type(model).__name__


def fix_for_kind(kind: CheckpointKind, path: str, model: torch.nn.Module, config: Optional[str]) -> Optional[str]:
    """The fix for a checkpoint that is the wrong kind for a pose model, or None when the kind is right."""
    cfg = config or 'CONFIG'
    backbone = getattr(model, 'backbone', None)
    model_experts = int(getattr(backbone, 'num_expert', 1)) if getattr(backbone, 'part_features', 0) else 0
    init = (f'it initialises the backbone only: set model.backbone.init_cfg=dict(type="Pretrained", checkpoint='
            f'"{path}") (e.g. --cfg-options model.backbone.init_cfg.checkpoint={path}) and train; '
            '--checkpoint / load_from take a whole pose model')
    if kind.kind == 'pose' and type(model).__name__ == 'BottomupPoseEstimator':
        return f'it is a top-down pose model and the model is bottom-up (BottomupPoseEstimator): {init}'
    if kind.kind == 'distill' and not hasattr(model, 'teacher'):
        return (f'extract the student first: python tools/extract_student.py {path} student.pth --config {cfg}, '
                'then load student.pth')
    if kind.kind == 'pretrain':
        return init + ' (the loader converts MAE/timm/mmpretrain names and resamples the grid itself)'
    if kind.kind == 'backbone':
        return init + ' (it is already converted: do not convert it again)'
    if kind.kind == 'vitpose+' and kind.experts != model_experts:
        return (f'keep one dataset: python tools/convert_checkpoint.py {path} out.pth --dataset '
                f'{{{"|".join(DATASETS)}}} --config {cfg} (its expert is folded into each block\'s fc2 and its head '
                'becomes the model\'s head; set model.head.out_channels to that dataset\'s keypoints), then load '
                'out.pth')
    if kind.kind == 'unknown':
        return f'see what it holds: python tools/convert_checkpoint.py {path} out.pth --config {cfg} --verbose'
    return None


def fix_for_arch(ckpt: Arch, model: Arch, path: str, config: Optional[str]) -> str:
    """The fix when a (converted) pose checkpoint and the model differ in architecture."""
    if ckpt.num_keypoints is not None and model.num_keypoints is not None and ckpt.decoder != model.decoder:
        want = shipped_config(ckpt.size_name, ckpt.decoder)
        return (f'the checkpoint has the {ckpt.decoder} decoder and the model the {model.decoder} one: use the '
                f'matching config {want}' + (f' --cfg-options {ckpt.cfg_options_text()}'
                                             if ckpt.cfg_options_text() else ''))
    if (ckpt.embed_dim, ckpt.depth) != (model.embed_dim, model.depth):
        return (f'the checkpoint is another model size: use {ckpt.config_name()}'
                + (f' --cfg-options {ckpt.cfg_options_text()}' if ckpt.cfg_options_text() else ''))
    if ckpt.num_keypoints is not None and ckpt.num_keypoints != model.num_keypoints:
        return (f'the checkpoint predicts {ckpt.num_keypoints} keypoints and the model {model.num_keypoints}: set '
                f'model.head.out_channels={ckpt.num_keypoints} (with a dataset of {ckpt.num_keypoints} keypoints)')
    if ckpt.part_features != model.part_features or ckpt.num_expert != model.num_expert:
        return (f'the experts differ: set model.backbone.num_expert={ckpt.num_expert} and '
                f'model.backbone.part_features={ckpt.part_features}, or convert with --dataset')
    return (f'see every key: python tools/convert_checkpoint.py {path} out.pth --config {config or "CONFIG"} '
            f'--verbose (or set {VERBOSE_ENV}=1)')


_INDEXED = re.compile(r'(blocks|layers|layer|experts|associate_keypoint_heads)\.(\d+)\.')


def _pattern(key: str):
    """(pattern with N for every index, the indices)."""
    return _INDEXED.sub(r'\1.N.', key), tuple(m.group(2) for m in _INDEXED.finditer(key))


def group_keys(keys: Sequence[str], tail: bool = True) -> List[str]:
    """Keys grouped by tensor kind: ``backbone.blocks.N.mlp.fc2.* (24)`` for one kind in every block, the real
    indices when they are the same for the whole group (``backbone.blocks.2.norm1.*``), a lone key in full.
    ``tail=False`` keeps the parameter name (for shape lines)."""
    groups: Dict[str, List[tuple]] = {}
    first: Dict[str, str] = {}
    for k in keys:
        pattern, index = _pattern(k)
        if tail and '.' in pattern:
            pattern = pattern.rsplit('.', 1)[0] + '.*'
        groups.setdefault(pattern, []).append(index)
        first.setdefault(pattern, k)
    out = []
    for pattern, indices in groups.items():
        if len(indices) == 1:  # a lone key is named in full (``backbone.cls_token``, not ``backbone.*``)
            out.append(first[pattern])
            continue
        if len(set(indices)) == 1 and indices[0]:
            it = iter(indices[0])
            pattern = re.sub(r'\.N\.', lambda _: f'.{next(it)}.', pattern)
        out.append(f'{pattern} ({len(indices)})' if tail and len(indices) > 1 else pattern)
    return out


def mismatch_message(path: str, checkpoint: str, model: str, fix: Optional[str],
                     missing: Sequence[str] = (), surplus: Sequence[str] = (), shapes: Sequence[str] = (),
                     reason: Optional[str] = None, verbose: Optional[bool] = None) -> str:
    """The whole diagnosis: what the checkpoint is, what the model is, the fix, then the keys (grouped unless
    verbose). Also logs every key at debug level."""
    lines = [f'{path} does not fit the model; nothing was loaded.', f'  checkpoint: {checkpoint}',
             f'  model:      {model}']
    if reason:
        lines.append(f'  problem:    {reason}')
    if fix:
        lines.append(f'  fix:        {fix}')
    full = verbose_wanted(verbose)
    logger = MMLogger.get_current_instance()
    for title, items in (('shape mismatches', shapes), ('missing in the checkpoint', missing),
                         ('not in the model', surplus)):
        if not items:
            continue
        logger.debug(f'{path}: {len(items)} {title}: {", ".join(items)}')
        shown = list(items) if full else _group_shapes(items) if title == 'shape mismatches' else group_keys(items)
        more = '' if full or len(shown) <= 12 else f' ... ({len(shown) - 12} more groups)'
        lines.append(f'  {len(items)} {title}: ' + ', '.join(shown[:None if full else 12]) + more)
    if (missing or surplus or shapes) and not full:
        lines.append(f'  (every key: {VERBOSE_ENV}=1 or verbose=True)')
    return '\n'.join(lines)


def _group_shapes(items: Sequence[str]) -> List[str]:
    """One line per kind of tensor (``key: checkpoint (..) vs model (..)``): the first block's shapes stand for all."""
    firsts: Dict[str, str] = {}
    for item in items:
        key, rest = item.split(':', 1)
        firsts.setdefault(_pattern(key)[0], rest)
    names = group_keys([i.split(':', 1)[0] for i in items], tail=False)
    return [f'{name}:{firsts[_pattern(name)[0]] if _pattern(name)[0] in firsts else ""}' for name in names]


__all__ = ['CheckpointKind', 'describe_checkpoint', 'describe_model', 'fix_for_kind', 'fix_for_arch', 'group_keys',
           'mismatch_message', 'verbose_wanted', 'VERBOSE_ENV']
