"""Every public ViTPose checkpoint layout -> vitpose_mm (and vitpose_mm -> HF transformers).

One path for all layouts (tables in :mod:`.layouts`):

1. read the file without running code (``torch.load(weights_only=True)`` or safetensors; an HF folder is
   ``config.json`` + ``model.safetensors``);
2. detect the layout, or take the one given; rename by its table. Keys no rule matches are an error; dropped keys are
   named with their reason;
3. ViTPose+ (experts, extra heads): keep one dataset. Its expert is folded into each block's ``mlp.fc2`` (the
   official ``tools/model_split.py`` does the same), its head becomes ``head``: a plain single-dataset ViTPose whose
   outputs equal the ViTPose+ model's for that dataset;
4. with a target model (:func:`fit_to_model`): adapt the patch kernel to its patch size, resample ``pos_embed`` to
   its grid (:mod:`vitpose_mm.checkpoints.adapt`; the source grid by the one rule of
   :func:`vitpose_mm.models.layers.pos_embed.source_grid`) and check every key and shape *before* loading
   anything, so a checkpoint that does not fit is refused with a diagnosis (:mod:`.diagnose`) and the model
   untouched. :func:`vitpose_mm.checkpoints.load_checkpoint` is that path ending in the model.
"""
import os
import os.path as osp
import re
import tempfile
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from vitpose_mm.models.layers.pos_embed import AmbiguousGridError, source_grid
from .adapt import fit_embeddings
from .arch import RELEASED_GRID, Arch, arch_of_model, infer_arch
from .diagnose import fix_for_arch, mismatch_message
from vitpose_mm.models.layers import is_relative_position_key
from .hf import IMAGENET_MEAN_255, IMAGENET_STD_255, hf_config_for, hf_preprocessor_config_for, \
    hints_from_hf_config, layer_norm_eps_note, read_hf_config, read_hf_folder, save_hf_folder
from .io import load_file, recorded_grid, state_dict_of
from .layouts import DATASETS, HF, LAYOUTS, Renamed, detect_layout, from_vitpose_mm, to_vitpose_mm

_EXPERT = re.compile(r'^(backbone\.blocks\.(\d+)\.mlp)\.experts\.(\d+)\.(weight|bias)$')
_EXTRA_HEAD = re.compile(r'^associate_heads\.(\d+)\.(.+)$')
COCO_HEAD_BEHIND = 'the COCO head behind'  # how a converted HF ViTPose+ model for another dataset is labelled
_DATASET_NAMES = {index: name for name, (index, _) in DATASETS.items()}


class CheckpointMismatchError(ValueError, RuntimeError):
    """A checkpoint that does not fit the model; the message says what it is, what the model is, and the fix.

    A ``ValueError`` (bad input) and, like ``torch``'s strict ``load_state_dict``, a ``RuntimeError``.
    """


@dataclass
class Source:
    """A checkpoint as read: its tensors, where from, and an HF ``config.json`` when it has one."""
    state_dict: Dict[str, torch.Tensor]
    path: str
    hf_config: Optional[dict] = None
    grid: Optional[Tuple[int, int]] = None  # recorded in the file's meta (this package's checkpoints)


@dataclass
class Conversion:
    """A checkpoint in vitpose_mm names, with everything a reader needs to trust it."""
    state_dict: Dict[str, torch.Tensor]
    layout: str
    arch: Arch
    source: str = '<memory>'
    dataset: Optional[str] = None
    dropped: Dict[str, str] = field(default_factory=dict)  # source key -> reason
    notes: List[str] = field(default_factory=list)
    grid_known: bool = False  # arch.grid by the grid rule (stated, recorded, layout default, square), not assumed
    grid_reason: str = ''
    head_dataset: Optional[str] = None  # whose keypoints the head predicts (COCO's for HF ViTPose+), when known

    @property
    def backbone_only(self) -> bool:
        return not any(k.startswith('head.') for k in self.state_dict)

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


# ---- reading ----------------------------------------------------------------------------------------------------
def read_source(path: str) -> Source:
    """Read a checkpoint file or an HF ``save_pretrained`` folder; never unpickles code."""
    path = os.fspath(path)
    if osp.isdir(path):
        sd, cfg, _ = read_hf_folder(path)
        return Source(sd, path, cfg)
    obj = load_file(path)
    sd = state_dict_of(obj, path)
    beside = osp.join(osp.dirname(osp.abspath(path)), 'config.json')
    cfg = read_hf_config(beside) if any(k.startswith('backbone.encoder.layer.') for k in sd) and \
        osp.isfile(beside) else None
    return Source(sd, path, cfg, recorded_grid(obj))


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
    dataset = _short_dataset_name(dataset) if dataset is not None else None
    if name not in LAYOUTS:
        raise ValueError(f'unknown layout {name!r}; known: {sorted(LAYOUTS)}')
    if name == 'mae':
        raise ValueError(f'{source} holds pre-training weights (no pose head): convert them for a backbone with '
                         'convert_checkpoint(..., backbone=vit) or use them through init_cfg')
    renamed = to_vitpose_mm(sd, LAYOUTS[name])
    head_dataset = _head_dataset(renamed.state_dict, dataset)
    notes = renamed.notes + _select_dataset(renamed, dataset, keep_experts)
    hints = hints_from_hf_config(hf_config) if hf_config else {}
    if name == 'hf' and hf_config is None:
        notes.append('no config.json beside these HF weights: heads and decoder upsampling are those of the released '
                     'sizes, the grid is guessed, and the LayerNorm eps is unknown (hub models use 1e-12)')
    if hints:
        note = layer_norm_eps_note(hints['layer_norm_eps'])
        notes += [note] if note else []
    grid, reason = _grid_rule(renamed.state_dict, name, src_grid, hints.pop('grid', recorded), source)
    arch = infer_arch(renamed.state_dict, grid=grid, **hints)
    return Conversion(renamed.state_dict, name, arch, source, dataset, renamed.dropped, notes,
                      grid_known=grid is not None, grid_reason=reason, head_dataset=head_dataset)


def _head_dataset(sd: Dict[str, torch.Tensor], dataset: Optional[str]) -> Optional[str]:
    """Whose keypoints the converted head predicts: ``dataset``, except for a ViTPose+ file with experts but only
    the COCO head (HF keeps no other): then COCO's, whichever expert ``dataset`` picks."""
    if dataset is None:
        return None
    experts = any(_EXPERT.match(k) for k in sd)
    return 'coco' if experts and not any(_EXTRA_HEAD.match(k) for k in sd) else dataset


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


def _short_dataset_name(name: str) -> str:
    """The ViTPose+ short name (``wholebody``) of a dataset given by mmpose's ``dataset_name`` (``coco_wholebody``);
    ``name`` itself when it is neither."""
    from vitpose_mm.datasets.facts import dataset_facts
    try:
        return dataset_facts(name).name
    except KeyError:
        return name


def _select_dataset(renamed: Renamed, dataset: Optional[str], keep_experts: bool) -> List[str]:
    """Fold ViTPose+ to one dataset in place (see the module docstring); returns notes."""
    sd, origin, dropped = renamed.state_dict, renamed.origin, renamed.dropped
    experts = sorted({int(m.group(3)) for k in sd for m in [_EXPERT.match(k)] if m})
    heads = sorted({int(m.group(1)) for k in sd for m in [_EXTRA_HEAD.match(k)] if m})
    if dataset is not None and dataset not in DATASETS:
        raise ValueError(f'unknown dataset {dataset!r}; ViTPose+ datasets: {list(DATASETS)}')
    if not experts and not heads:
        if dataset not in (None, 'coco'):
            raise ValueError(f'dataset {dataset!r} picks a ViTPose+ expert, but this checkpoint has no experts')
        return []
    what = f'ViTPose+ checkpoint ({len(experts)} experts, {1 + len(heads)} heads)'

    def drop(key: str, reason: str) -> None:
        dropped[origin.pop(key)] = reason
        del sd[key]

    def fold(index: int, label: str) -> None:
        for k in sorted(k for k in sd if _EXPERT.match(k)):
            mlp, _, j, param = _EXPERT.match(k).groups()
            if int(j) != index:
                drop(k, f'expert {j} ({_DATASET_NAMES.get(int(j), "?")}), not the one of {label}')
                continue
            fc2 = f'{mlp}.fc2.{param}'
            sd[fc2] = torch.cat([sd[fc2], sd[k]], dim=0)
            drop(k, f"folded into its block's mlp.fc2 ({label})")
        notes.append(f"{what}: folded expert {index} ({label}) into every block's mlp.fc2 (the shared channels "
                     "first, then the expert's), as the official tools/model_split.py does")

    notes: List[str] = []
    if dataset is None:
        if len(experts) == 1 and not heads:  # one expert: nothing to choose
            fold(experts[0], 'its only expert')
            return notes
        if not keep_experts:
            raise ValueError(f'{what}: choose the dataset to keep, one of {list(DATASETS)} (--dataset); its '
                             "expert is folded into each block's fc2 and its head becomes the model's head")
        for k in [k for k in sd if _EXTRA_HEAD.match(k)]:
            drop(k, f'head of dataset {_DATASET_NAMES.get(int(_EXTRA_HEAD.match(k).group(1)) + 1)}: HF '
                 "VitPoseForPoseEstimation has one head (the COCO head is kept, as in HF's own conversion)")
        return [f'{what}: kept all experts and the COCO head']
    index = DATASETS[dataset][0]
    if experts:
        if index not in experts:
            raise ValueError(f'{what}: dataset {dataset!r} is expert {index}, which is not among {experts}')
        fold(index, f'dataset {dataset}')
    if index == 0:
        for k in [k for k in sd if _EXTRA_HEAD.match(k)]:
            drop(k, f'head of dataset {_DATASET_NAMES.get(int(_EXTRA_HEAD.match(k).group(1)) + 1)}, not coco')
        return notes
    if not heads:
        notes.append(f'{COCO_HEAD_BEHIND} the {dataset} expert: HF ViTPose+ keeps only the COCO head, so this model '
                     f'predicts COCO\'s 17 keypoints (not {dataset}\'s) with the {dataset} expert folded in; its '
                     f'outputs equal the source model run with dataset_index={index}')
        return notes
    if index - 1 not in heads:
        raise ValueError(f'{what}: no head for dataset {dataset!r} (associate head {index - 1})')
    for k in [k for k in sd if k.startswith('head.')]:
        drop(k, f'head of dataset coco, not {dataset}')
    for k in [k for k in sd if _EXTRA_HEAD.match(k)]:
        i, rest = _EXTRA_HEAD.match(k).groups()
        if int(i) == index - 1:
            sd['head.' + rest], origin['head.' + rest] = sd.pop(k), origin.pop(k)
        else:
            drop(k, f'head of dataset {_DATASET_NAMES.get(int(i) + 1)}, not {dataset}')
    notes.append(f'kept the head of {dataset} ({origin["head.final_layer.weight"].rsplit(".", 2)[0]})')
    return notes


def convert_checkpoint(path: Union[str, Source],
                       layout: str = 'auto',
                       dataset: Optional[str] = None,
                       keep_experts: bool = False,
                       backbone: Optional[nn.Module] = None,
                       src_grid: Optional[Sequence[int]] = None,
                       patch_padding: str = 'pad') -> Conversion:
    """Read (unless ``path`` is a :class:`Source` already) and convert a checkpoint file or HF folder.

    Pre-training weights (layout ``mae``) become a backbone-only checkpoint for ``backbone`` (a ``ViT``, whose grid
    the position embedding is resampled to, and whose patch size the kernel is adapted to by ``patch_padding``)
    through :func:`vitpose_mm.checkpoints.convert_backbone_state_dict`. ``src_grid``: see :func:`convert_state_dict`.
    """
    src = path if isinstance(path, Source) else read_source(path)
    path = src.path
    name = detect_layout(list(src.state_dict)) if layout == 'auto' else layout
    if name != 'mae':
        return convert_state_dict(src.state_dict, name, dataset, src.hf_config, keep_experts, source=src.path,
                                  src_grid=src_grid, recorded=src.grid)
    from .backbone import convert_backbone_state_dict
    if backbone is None:
        raise ValueError(f'{path} holds pre-training weights (no pose head): give the backbone (a vitpose_mm config '
                         'with --config) whose grid the position embedding is resampled to')
    if dataset is not None:
        raise ValueError('dataset applies to ViTPose+ checkpoints, not to pre-training weights')
    sd, dropped, notes = convert_backbone_state_dict(src.state_dict, backbone, src_grid=src_grid,
                                                     recorded=src.grid, patch_padding=patch_padding)
    sd = {'backbone.' + k: v for k, v in sd.items()}
    hints = arch_of_model(backbone)
    hints.pop('upsample')
    arch = infer_arch(sd, **hints)
    notes.append('backbone only: load it with init_cfg=dict(type="Pretrained", checkpoint=...) in the backbone '
                 'config')
    return Conversion(sd, 'mae', arch, src.path, None, dropped, notes, grid_known=True, grid_reason='the model\'s')


# ---- checking against a model, loading, saving ------------------------------------------------------------------
def fit_to_model(conv: Conversion, model: nn.Module, patch_padding: str = 'pad', config: Optional[str] = None,
                 allow_missing: Sequence[str] = (), verbose: Optional[bool] = None) -> Conversion:
    """Fit the embeddings to ``model`` (patch size, position grid; :func:`.adapt.fit_embeddings`), then check every
    key and shape; on success ``conv.arch`` takes what the weights do not say (heads, decoder upsampling) from the
    model.

    ``model`` is a vitpose_mm pose model (``backbone`` + ``head``); for a backbone-only conversion only the
    backbone keys are compared, and ``last_norm`` may be missing (pre-training weights have none ViTPose uses).
    ``allow_missing``: model keys the checkpoint may lack. ``config`` names the model's config in the fix.

    Raises:
        CheckpointMismatchError: what the checkpoint is, what the model is, the fix, and the keys (grouped unless
        ``verbose``); nothing is changed. AmbiguousGridError: see :func:`source_grid`.
    """
    own = model.state_dict()
    sd = dict(conv.state_dict)
    notes = fit_embeddings(sd, model.backbone, 'backbone.', conv.arch.grid if conv.grid_known else None,
                           patch_padding=patch_padding, what=conv.source, reason=conv.grid_reason)
    wanted = [k for k in own if k not in allow_missing and (not conv.backbone_only or (
        k.startswith('backbone.') and not k.startswith('backbone.last_norm.')))]
    # window attention's relative-position tables are in no plain checkpoint: the model's load hook
    # (WindowAttention._load_from_state_dict) fills them with zeros
    missing = [k for k in wanted if k not in sd and not is_relative_position_key(k)]
    surplus = [k for k in sd if k not in own]
    shapes = [f'{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}' for k in sd
              if k in own and sd[k].shape != own[k].shape]
    if missing or surplus or shapes:
        try:
            model_arch = infer_arch(own, **arch_of_model(model))
        except (KeyError, AttributeError, IndexError):
            model_arch = None
        fix = fix_for_arch(conv.arch, model_arch, conv.source, config) if model_arch else None
        raise CheckpointMismatchError(mismatch_message(
            conv.source, f'{conv.arch.describe()} ({conv.layout} layout)',
            model_arch.describe() if model_arch else type(model).__name__, fix, missing, surplus, shapes,
            verbose=verbose))
    conv.state_dict, conv.grid_known = sd, True
    conv.notes += notes
    hints = arch_of_model(model)  # what the weights do not say (heads, upsampling), from the model
    hints['layer_norm_eps'] = conv.arch.layer_norm_eps  # the source's (HF), kept for writing it back
    if conv.backbone_only:
        hints.pop('upsample')
    conv.arch = infer_arch(sd, **hints)
    return conv


def save_checkpoint(conv: Conversion, path: str) -> None:
    """Write an mmengine checkpoint ``{'meta': ..., 'state_dict': ...}``; a failure leaves no partial file."""
    path = osp.abspath(os.fspath(path))
    os.makedirs(osp.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + osp.basename(path) + '.', dir=osp.dirname(path))
    os.close(fd)
    try:
        torch.save({'meta': conv.meta(), 'state_dict': OrderedDict(conv.state_dict)}, tmp)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def save_hf(conv: Conversion, folder: str, mean=IMAGENET_MEAN_255, std=IMAGENET_STD_255) -> dict:
    """Write ``conv`` as an HF ``save_pretrained`` folder (``config.json``, ``model.safetensors`` and the
    ``preprocessor_config.json`` of its crop size, ``mean`` and ``std``: :func:`hf_preprocessor_config_for`);
    returns the ``config.json`` written."""
    config = hf_config_for(conv.arch)
    save_hf_folder(folder, from_vitpose_mm(conv.state_dict, HF), config,
                   preprocessor=hf_preprocessor_config_for(conv.arch, mean, std))
    return config


__all__ = ['CheckpointMismatchError', 'Conversion', 'Source', 'read_source', 'convert_state_dict',
           'convert_checkpoint', 'fit_to_model', 'save_checkpoint', 'save_hf', 'detect_layout']
