# References: ViTAE-Transformer/ViTPose tools/model_split.py (folding one expert into fc2, keeping one head), read for
# behaviour.
"""Checkpoints of :class:`MultiDatasetTopdownPoseEstimator` (ViTPose+): from the official release, and to one dataset.

- :func:`load_official_vitpose_plus` loads an official ViTPose+ checkpoint (all experts, ``keypoint_head`` and the
  five ``associate_keypoint_heads``) **strictly** into the six-dataset configs
  (``configs/vitpose_plus/td-hm_ViTPose-plus-*_6datasets-256x192.py``), renamed to the multi-dataset names
  (``heads.{dataset_name}.*``) by the loader's :func:`~vitpose_mm.checkpoints.conversion.official_to_multi_dataset`.
- :func:`export_dataset` turns a multi-dataset model into a plain single-dataset ViTPose for one of its datasets: the
  dataset's expert is folded into every block's ``mlp.fc2`` (shared channels first, then the expert's, as the
  official ``tools/model_split.py`` does), its head becomes ``head``; the outputs equal the multi-dataset model's for
  that dataset. The checkpoint carries the dataset's ``dataset_meta`` (keypoint names, skeleton, flip pairs), which
  ``PoseEstimator`` / ``tools/demo.py`` and mmpose's ``init_model`` use.
"""
import re
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from vitpose_mm.datasets.facts import dataset_facts, metainfo_file
from .conversion import official_to_multi_dataset  # noqa: F401  (public name of this module before the loader's)
from .io import atomic_path
from .loading import load

_EXPERT = re.compile(r'^(backbone\.blocks\.\d+\.mlp)\.experts\.(\d+)\.(weight|bias)$')


def load_official_vitpose_plus(model: nn.Module, path: str) -> Dict[str, str]:
    """Load an official ViTPose+ release strictly into a six-dataset model (:func:`vitpose_mm.checkpoints.load`:
    renamed by :func:`~vitpose_mm.checkpoints.conversion.official_to_multi_dataset`, ``pos_embed`` resampled when the
    model's input size differs); returns the dropped keys and reasons."""
    if not hasattr(model, 'heads'):
        raise ValueError(f'{type(model).__name__} is not a multi-dataset model (no heads)')
    return load(model, path, layout='official').dropped


def export_dataset(model: nn.Module, dataset_name: str,
                   dataset_meta: Optional[dict] = None) -> Tuple[Dict[str, torch.Tensor], dict, List[str]]:
    """A plain single-dataset ViTPose from a multi-dataset model: ``(state dict, dataset_meta, notes)``.

    Args:
        model: a :class:`MultiDatasetTopdownPoseEstimator`.
        dataset_name: the head to keep (a key of ``model.heads``, e.g. ``ap10k``; the ViTPose+ short name of a dataset,
            ``wholebody``, names the head of ``coco_wholebody``).
        dataset_meta: the dataset's metainfo (``parse_pose_metainfo`` format); defaults to mmpose's metainfo of the
            dataset of that name (:mod:`vitpose_mm.datasets.facts`).

    Raises:
        KeyError: the model has no head ``dataset_name``, or no dataset_meta is known for it.
    """
    heads = getattr(model, 'heads', None)
    if heads is not None and dataset_name not in heads:  # the ViTPose+ short name (wholebody) for mmpose's name
        try:
            dataset_name = dataset_facts(dataset_name).dataset_name
        except KeyError:
            pass
    if heads is None or dataset_name not in heads:
        raise KeyError(f'dataset {dataset_name!r} has no head in this model; heads: '
                       f'{list(heads) if heads is not None else "none (not a multi-dataset model)"}')
    expert = model.experts[dataset_name]
    sd, notes, folded = {}, [], 0
    own = model.state_dict()
    for key, value in own.items():
        m = _EXPERT.match(key)
        if m:
            if int(m.group(2)) == expert:
                fc2 = f'{m.group(1)}.fc2.{m.group(3)}'
                sd[fc2] = torch.cat([own[fc2], value], dim=0)
                folded += 1
            continue
        if key.startswith('heads.'):
            name, rest = key[len('heads.'):].split('.', 1)
            if name == dataset_name:
                sd['head.' + rest] = value
            continue
        if key.startswith('data_preprocessor.') or _is_fc2_of_moe(key, own):
            continue
        sd[key] = value
    if folded:
        notes.append(f"folded expert {expert} ({dataset_name}) into every block's mlp.fc2 ({folded // 2} blocks)")
    notes.append(f'kept the head of {dataset_name}; dropped {len(heads) - 1} other heads')
    if dataset_meta is None:
        from mmpose.datasets.datasets.utils import parse_pose_metainfo
        dataset_meta = parse_pose_metainfo(dict(from_file=metainfo_file(dataset_facts(dataset_name).name)))
    return sd, dataset_meta, notes


def _is_fc2_of_moe(key: str, own: Dict[str, torch.Tensor]) -> bool:
    """A shared ``fc2`` tensor of a block with experts: written (with the expert folded in) when the expert is."""
    m = re.match(r'^(backbone\.blocks\.\d+\.mlp)\.fc2\.(weight|bias)$', key)
    return bool(m) and f'{m.group(1)}.experts.0.{m.group(2)}' in own


def save_exported(path: str, state_dict: Dict[str, torch.Tensor], dataset_meta: dict, info: dict) -> None:
    """Write ``{'meta': {'dataset_meta': ..., 'vitpose_mm': info}, 'state_dict': ...}``; no partial file on failure.

    ``dataset_meta`` keeps mmpose's numpy arrays, as the checkpoints of mmengine's runner do (``import vitpose_mm``
    lets ``torch.load(weights_only=True)`` read them).
    """
    with atomic_path(path) as tmp:
        torch.save({'meta': {'dataset_meta': dataset_meta, 'vitpose_mm': info}, 'state_dict': state_dict}, tmp)

__all__ = ['official_to_multi_dataset', 'load_official_vitpose_plus', 'export_dataset', 'save_exported']
