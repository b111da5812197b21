"""The one conversion: any public ViT/ViTPose layout -> this package's state dict (:func:`convert`, in the role of
timm's ``checkpoint_filter_fn``). Pure: it reads tensors and the target model's shapes, writes nothing, loads nothing.

One path for all layouts (tables in :mod:`.layouts`):

1. (the caller) read the file without running code (:func:`vitpose_mm.checkpoints.io.read_checkpoint`);
2. detect the layout, or take the one given; rename by its table. Keys no rule matches are an error; dropped keys are
   named with their reason;
3. ViTPose+ (experts, extra heads; :mod:`.experts`): keep one dataset. Its expert is folded into each block's
   ``mlp.fc2`` (the official ``tools/model_split.py`` does the same), its head becomes ``head``: a plain
   single-dataset ViTPose whose outputs equal the ViTPose+ model's for that dataset;
4. pre-training weights (MAE/timm, mmpretrain names; layout ``mae``) become the target ViT's names
   (:mod:`.backbone`), an official ViTPose+ file for a multi-dataset model keeps every expert and head
   (:func:`official_to_multi_dataset`);
5. with a target model: adapt the patch kernel to its patch size and resample ``pos_embed`` to its grid
   (:mod:`.adapt`; the source grid by the one rule of :func:`vitpose_mm.models.layers.pos_embed.source_grid`:
   stated, recorded, the layout's released 16x12, square, else refused).

:func:`check_fits` then checks every key and shape *before* anything is loaded (a diagnosis, :mod:`.diagnose`,
only when they do not fit); :func:`vitpose_mm.checkpoints.load` is that path ending in the model.
"""
import dataclasses
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from vitpose_mm.models.layers.pos_embed import AmbiguousGridError, source_grid
from .adapt import fit_embeddings
from .experts import (COCO_HEAD_BEHIND, head_dataset, official_to_multi_dataset, select_dataset,  # noqa: F401
                      short_dataset_name)
from .io import strip_module_prefix
from .layouts import LAYOUTS, RELEASED_GRID, detect_layout, to_vitpose_mm


class CheckpointMismatchError(ValueError, RuntimeError):
    """A checkpoint that does not fit the model; the message says what it is, what the model is, and the fix.

    A ``ValueError`` (bad input) and, like ``torch``'s strict ``load_state_dict``, a ``RuntimeError``.
    """


@dataclass
class Conversion:
    """A checkpoint in vitpose_mm names, with everything a reader needs to trust it. ``arch`` (what the weights
    describe: :class:`~vitpose_mm.checkpoints.arch.Arch`) is read off the tensors when first asked for."""
    state_dict: Dict[str, torch.Tensor]
    layout: str
    source: str = '<memory>'
    dataset: Optional[str] = None
    dropped: Dict[str, str] = field(default_factory=dict)  # source key -> reason
    notes: List[str] = field(default_factory=list)
    grid: Optional[Tuple[int, int]] = None  # the weights' position grid by the grid rule, when it can say
    grid_known: bool = False  # grid by the rule (stated, recorded, layout default, square), not assumed
    grid_reason: str = ''
    head_dataset: Optional[str] = None  # whose keypoints the head predicts (COCO's for HF ViTPose+), when known
    hints: dict = field(default_factory=dict)  # what the weights do not say: num_heads, upsample, layer_norm_eps
    _arch: Optional[object] = field(default=None, repr=False, compare=False)

    @property
    def arch(self) -> 'Arch':  # noqa: F821  (vitpose_mm.checkpoints.arch, imported when asked for)
        if self._arch is None:
            from .arch import infer_arch
            sd = self.state_dict if 'backbone.pos_embed' in self.state_dict else {
                'backbone.' + k: v for k, v in self.state_dict.items()}  # a bare ViT's names
            self._arch = infer_arch(sd, grid=self.grid, **self.hints)
        return self._arch

    @arch.setter
    def arch(self, value) -> None:
        self._arch = value

    @property
    def backbone_only(self) -> bool:
        return not any(k.startswith(('head.', 'heads.')) for k in self.state_dict)

    def meta(self) -> dict:
        """Plain data (loads under ``weights_only=True``) for the checkpoint's ``meta``."""
        from vitpose_mm import __version__
        grid = dict(grid=list(self.arch.grid), patch_size=list(self.arch.patch_size)) if self.grid_known else {}
        meta = dict(vitpose_mm=dict(version=__version__, converted_from=osp.basename(self.source),
                                    layout=self.layout, dataset=self.dataset, head=self.head_dataset,
                                    arch=self.arch.to_dict(), dropped=dict(self.dropped), notes=list(self.notes),
                                    **grid))
        if self.head_dataset is not None:  # the head's keypoints, skeleton and flip pairs, as exports carry them
            from mmpose.datasets.datasets.utils import parse_pose_metainfo
            from vitpose_mm.datasets.facts import metainfo_file
            meta['dataset_meta'] = parse_pose_metainfo(dict(from_file=metainfo_file(self.head_dataset)))
        return meta


# ---- converting -------------------------------------------------------------------------------------------------
def convert_state_dict(sd: Dict[str, torch.Tensor],
                       layout: str = 'auto',
                       dataset: Optional[str] = None,
                       hf_config: Optional[dict] = None,
                       keep_experts: bool = False,
                       source: str = '<memory>',
                       src_grid: Optional[Sequence[int]] = None,
                       recorded: Optional[Sequence[int]] = None) -> Conversion:
    """Convert a pose checkpoint's tensors to vitpose_mm names (steps 2 and 3 of the module docstring).

    Args:
        sd: the tensors (``state_dict`` of the checkpoint).
        layout: ``auto`` or one of ``official``, ``vitpose_mm``, ``mmpose``, ``hf`` (``mae``: see
            :func:`convert_checkpoint`).
        dataset: ViTPose+ only: the dataset whose expert and head to keep (``coco``, ``aic``, ``mpii``, ``ap10k``,
            ``apt36k``, ``wholebody``; mmpose's ``coco_wholebody`` names the same dataset).
        hf_config: the HF ``config.json`` (heads, decoder, LayerNorm eps, grid); without it the HF layout is read
            with the released models' values.
        keep_experts: keep all experts (for writing an HF MoE model) when no dataset is given.
        source: where ``sd`` came from, for messages.
        src_grid: the (h, w) position grid of the weights when the caller knows it better than the file.
        recorded: the grid the file records (``meta['vitpose_mm']['grid']``).
    """
    name = detect_layout(list(sd)) if layout == 'auto' else layout
    dataset = short_dataset_name(dataset) if dataset is not None else None
    if name not in LAYOUTS:
        raise ValueError(f'unknown layout {name!r}; known: {sorted(LAYOUTS)}')
    if name == 'mae':
        raise ValueError(f'{source} holds pre-training weights (no pose head): convert them for a backbone with '
                         'convert_checkpoint(..., backbone=vit) or use them through init_cfg')
    renamed = to_vitpose_mm(sd, LAYOUTS[name])
    head = head_dataset(renamed.state_dict, dataset)
    notes = renamed.notes + select_dataset(renamed, dataset, keep_experts)
    hints = {}
    if hf_config:
        from .hf import hints_from_hf_config, layer_norm_eps_note
        hints = hints_from_hf_config(hf_config)
        note = layer_norm_eps_note(hints['layer_norm_eps'])
        notes += [note] if note else []
    if name == 'hf' and hf_config is None:
        notes.append('no config.json beside these HF weights: heads and decoder upsampling are those of the released '
                     'sizes, the grid is guessed, and the LayerNorm eps is unknown (hub models use 1e-12)')
    grid, reason = _grid_rule(renamed.state_dict, name, src_grid, hints.pop('grid', recorded), source)
    return Conversion(renamed.state_dict, name, source, dataset, renamed.dropped, notes, grid, grid is not None,
                      reason, head, hints)


def _grid_rule(sd: Dict[str, torch.Tensor], layout: str, given, recorded, source: str):
    """The weights' grid by the one rule (stated, recorded, layout default, square), or (None, '') when it
    cannot say; then nothing may be resampled, and a model of another grid is refused."""
    pos = sd.get('backbone.pos_embed')
    if pos is None:
        return None, ''
    default = RELEASED_GRID if layout in ('official', 'mmpose', 'hf') else None
    try:
        return source_grid(pos.shape[1] - 1, given, recorded, default, what=source)
    except AmbiguousGridError:
        return None, ''


def _is_vit(model: Optional[nn.Module]) -> bool:
    """A bare ViT backbone (the target of pre-training weights), not a pose model around one."""
    return model is not None and hasattr(model, 'patch_shape') and not hasattr(model, 'backbone')


def convert(state_dict: Dict[str, torch.Tensor],
            model: Optional[nn.Module] = None,
            layout: str = 'auto',
            dataset: Optional[str] = None,
            hf_config: Optional[dict] = None,
            recorded_grid: Optional[Sequence[int]] = None,
            src_grid: Optional[Sequence[int]] = None,
            patch_padding: str = 'pad',
            prefix: Optional[str] = None,
            source: str = '<memory>') -> Conversion:
    """Any public layout -> ``model``'s state dict, by the steps of the module docstring. Pure: ``state_dict`` and
    ``model`` are not changed, nothing is read or written.

    Args:
        state_dict: the checkpoint's tensors (DDP's ``module.`` is stripped here).
        model: the target: a pose model (``backbone`` ViT + ``head``, or ``heads`` of a multi-dataset model), a bare
            ``ViT`` (pre-training or backbone weights, in ``ViT`` names; ``prefix`` selects the backbone part), or
            None (rename and fold only: no grid or patch fitting).
        layout: ``auto`` or a name of :data:`.layouts.LAYOUTS` (``official``, ``vitpose_mm``, ``mmpose``, ``hf``,
            ``mae``).
        dataset: ViTPose+ files for a single-dataset model: whose expert and head to keep (``coco``, ``aic`` ...).
        hf_config: the HF ``config.json`` beside HF weights (heads, decoder, grid, LayerNorm eps).
        recorded_grid: the (h, w) grid the file records (``meta['vitpose_mm']['grid']``).
        src_grid: the (h, w) grid of the weights, stated by the caller (wins over everything).
        patch_padding: ``pad``, ``bilinear`` or ``bicubic``: a patch kernel of another size (ViT-H/14 pre-training).
        prefix: bare ``ViT`` target: the key prefix of the backbone (default: ``backbone.`` when present).
        source: where the tensors came from, for notes and messages.

    Returns:
        a :class:`Conversion`: the state dict, the layout, every dropped source key with its reason, the notes on every
        tensor changed (renames that change values, folded experts, resampled grid, adapted kernel).

    Raises:
        ValueError: unknown layout or dataset, a ViTPose+ file with no dataset for a plain model, pre-training weights
        without a target. KeyError: a source key that no rule of the layout places. AmbiguousGridError: see
        :func:`~vitpose_mm.models.layers.pos_embed.source_grid`.
    """
    sd = strip_module_prefix(state_dict)
    if _is_vit(model):
        return _pretraining(sd, model, '', prefix, src_grid, recorded_grid, patch_padding, source)
    name = detect_layout(list(sd)) if layout == 'auto' else layout
    backbone = getattr(model, 'backbone', None)
    if name == 'mae':
        if backbone is None:
            raise ValueError(f'{source} holds pre-training weights (no pose head): give the backbone (a vitpose_mm '
                             'config with --config) whose grid the position embedding is resampled to')
        if dataset is not None:
            raise ValueError('dataset applies to ViTPose+ checkpoints, not to pre-training weights')
        return _pretraining(sd, backbone, 'backbone.', None, src_grid, recorded_grid, patch_padding, source)
    if name == 'official' and dataset is None and hasattr(model, 'heads') and \
            any(k.startswith('associate_keypoint_heads.') for k in sd):
        out, dropped = official_to_multi_dataset(sd)
        grid, reason = _grid_rule(out, name, src_grid, recorded_grid, source)
        conv = Conversion(out, name, source, None, dropped,
                          ['official ViTPose+ release renamed to the multi-dataset names (heads.DATASET)'],
                          grid, grid is not None, reason)
    else:
        keep = bool(getattr(backbone, 'part_features', 0))
        conv = convert_state_dict(sd, name, dataset, hf_config, keep, source, src_grid, recorded_grid)
    if backbone is not None:
        _fit(conv, model, patch_padding)
    return conv


def _pretraining(sd, vit: nn.Module, out_prefix: str, prefix, src_grid, recorded, patch_padding,
                 source: str) -> Conversion:
    """Pre-training (or backbone) weights in ``vit``'s names, fitted to its patch size and grid."""
    from .backbone import convert_backbone_state_dict
    out, dropped, notes = convert_backbone_state_dict(sd, vit, prefix, src_grid, recorded, patch_padding, source)
    out = {out_prefix + k: v for k, v in out.items()}
    hints = hints_of_model(vit)
    hints.pop('upsample')
    return Conversion(out, 'mae', source, None, dropped, notes, tuple(vit.patch_shape), True, 'the model\'s',
                      hints=hints)


def _fit(conv: Conversion, model: nn.Module, patch_padding: str) -> None:
    """Fit ``conv``'s patch kernel and position grid to ``model``'s ViT (a new dict; the tensors it held are not
    changed)."""
    sd = dict(conv.state_dict)
    conv.notes += fit_embeddings(sd, model.backbone, 'backbone.', conv.grid if conv.grid_known else None,
                                 patch_padding=patch_padding, what=conv.source, reason=conv.grid_reason)
    conv.state_dict, conv.grid, conv.grid_known, conv.arch = sd, tuple(model.backbone.patch_shape), True, None


def hints_of_model(model: nn.Module) -> dict:
    """What a built model (a pose model or its ViT) says that its weights do not: attention heads, the simple
    decoder's upsampling (None without a head), LayerNorm eps."""
    backbone, head = getattr(model, 'backbone', model), getattr(model, 'head', None)
    return dict(num_heads=backbone.blocks[0].attn.num_heads, layer_norm_eps=backbone.blocks[0].norm1.eps,
                upsample=int(getattr(head, 'upsample', 0) or 0) if head is not None else None)


def check_fits(conv: Conversion, model: nn.Module, config: Optional[str] = None, allow_missing: Sequence[str] = (),
               verbose: Optional[bool] = None) -> None:
    """Every key and shape of ``conv`` against ``model`` (a backbone-only conversion: the backbone keys, and
    ``last_norm`` may be missing; ``allow_missing``: model keys the checkpoint may lack). When they fit,
    ``conv.arch`` takes what the weights do not say (attention heads, decoder upsampling) from the model.

    Raises:
        CheckpointMismatchError: what the checkpoint is, what the model is, the fix, and the keys (grouped unless
        ``verbose``; :mod:`.diagnose`).
    """
    from vitpose_mm.models.layers import is_relative_position_key
    own, sd = model.state_dict(), conv.state_dict
    wanted = [k for k in own if k not in allow_missing and (not conv.backbone_only or (
        k.startswith('backbone.') and not k.startswith('backbone.last_norm.')))]
    # window attention's relative-position tables are in no plain checkpoint: the model's load hook
    # (WindowAttention._load_from_state_dict) fills them with zeros
    missing = [k for k in wanted if k not in sd and not is_relative_position_key(k)]
    surplus = [k for k in sd if k not in own]
    shapes = [f'{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}' for k in sd
              if k in own and sd[k].shape != own[k].shape]
    if not (missing or surplus or shapes):
        hints = hints_of_model(model)
        if 'layer_norm_eps' in conv.hints:  # the source's (HF), kept for writing it back
            hints['layer_norm_eps'] = conv.hints['layer_norm_eps']
        conv.hints, conv.arch = hints, None
        return
    from .arch import arch_of_model, infer_arch
    from .diagnose import fix_for_arch, mismatch_message
    try:
        model_arch = infer_arch(own, **arch_of_model(model))
    except (KeyError, AttributeError, IndexError):
        model_arch = None
    fix = fix_for_arch(conv.arch, model_arch, conv.source, config) if model_arch else None
    raise CheckpointMismatchError(mismatch_message(
        conv.source, f'{conv.arch.describe()} ({conv.layout} layout)',
        model_arch.describe() if model_arch else type(model).__name__, fix, missing, surplus, shapes,
        verbose=verbose))


def fit_to_model(conv: Conversion, model: nn.Module, patch_padding: str = 'pad', config: Optional[str] = None,
                 allow_missing: Sequence[str] = (), verbose: Optional[bool] = None) -> Conversion:
    """Fit a conversion made without a model (:func:`convert` with ``model=None``) to ``model`` and check it
    (:func:`check_fits`); ``conv`` is changed only when it fits.

    Raises:
        CheckpointMismatchError: see :func:`check_fits`. AmbiguousGridError: see :func:`source_grid`.
    """
    fitted = dataclasses.replace(conv, notes=list(conv.notes))
    _fit(fitted, model, patch_padding)
    check_fits(fitted, model, config, allow_missing, verbose)
    conv.__dict__.update(fitted.__dict__)
    return conv


__all__ = ['CheckpointMismatchError', 'Conversion', 'convert', 'convert_state_dict', 'check_fits',
           'fit_to_model', 'official_to_multi_dataset']
