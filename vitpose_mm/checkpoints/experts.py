# References: the official ViTPose tools/model_split.py (folding one expert into fc2, keeping one head) and
# transformers' convert_vitpose_to_hf.py (HF ViTPose+ keeps the COCO head), read for behaviour.
"""ViTPose+ checkpoints (experts, several heads): kept whole for the multi-dataset model, or folded to one dataset.

Folding keeps one dataset: its expert is appended to each block's ``mlp.fc2`` (the shared channels first, then the
expert's, as the official ``tools/model_split.py`` does), its head becomes ``head``: a plain single-dataset ViTPose
whose outputs equal the ViTPose+ model run for that dataset. Part of the one conversion
(:func:`vitpose_mm.checkpoints.conversion.convert`).
"""
import re
from typing import Dict, List, Optional, Tuple

import torch

from .layouts import DATASETS, LAYOUTS, Renamed, detect_layout, to_vitpose_mm

_EXPERT = re.compile(r'^(backbone\.blocks\.(\d+)\.mlp)\.experts\.(\d+)\.(weight|bias)$')
_EXTRA_HEAD = re.compile(r'^associate_heads\.(\d+)\.(.+)$')
COCO_HEAD_BEHIND = 'the COCO head behind'  # how a converted HF ViTPose+ model for another dataset is labelled
_DATASET_NAMES = {index: name for name, (index, _) in DATASETS.items()}


def head_dataset(sd: Dict[str, torch.Tensor], dataset: Optional[str]) -> Optional[str]:
    """Whose keypoints the converted head predicts: ``dataset``, except for a ViTPose+ file with experts but only
    the COCO head (HF keeps no other): then COCO's, whichever expert ``dataset`` picks."""
    if dataset is None:
        return None
    experts = any(_EXPERT.match(k) for k in sd)
    return 'coco' if experts and not any(_EXTRA_HEAD.match(k) for k in sd) else dataset


def short_dataset_name(name: str) -> str:
    """The ViTPose+ short name (``wholebody``) of a dataset given by mmpose's ``dataset_name`` (``coco_wholebody``);
    ``name`` itself when it is neither."""
    from vitpose_mm.datasets.facts import dataset_facts
    try:
        return dataset_facts(name).name
    except KeyError:
        return name


def select_dataset(renamed: Renamed, dataset: Optional[str], keep_experts: bool) -> List[str]:
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


def official_to_multi_dataset(sd: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """Official ViTPose+ tensors -> ``(state dict in multi-dataset names, {dropped key: reason})``: every expert
    kept, ``keypoint_head`` -> ``heads.coco``, ``associate_keypoint_heads.{k}`` -> ``heads.{dataset of expert
    k + 1}`` (:class:`~vitpose_mm.models.MultiDatasetTopdownPoseEstimator`, the six-dataset configs).

    Raises ``KeyError`` (from the rename table) on keys the official layout does not know, ``ValueError`` when the
    checkpoint is not an official-layout ViTPose+ one (no experts or no associate heads).
    """
    from vitpose_mm.datasets.facts import POSE_DATASETS
    by_expert = {f.expert: f.dataset_name for f in POSE_DATASETS.values() if f.expert is not None}
    layout = detect_layout(list(sd))
    if layout != 'official':
        raise ValueError(f'expected an official ViTPose+ checkpoint (keypoint_head, associate_keypoint_heads), '
                         f'got the {layout!r} layout')
    renamed = to_vitpose_mm(sd, LAYOUTS['official'])
    if not any(_EXPERT.match(k) for k in renamed.state_dict) or \
            not any(_EXTRA_HEAD.match(k) for k in renamed.state_dict):
        raise ValueError('not a ViTPose+ checkpoint: it has no experts or no associate_keypoint_heads; load plain '
                         'ViTPose checkpoints into the single-dataset configs')
    out = {}
    for key, value in renamed.state_dict.items():
        m = _EXTRA_HEAD.match(key)
        if key.startswith('head.'):
            key = f'heads.{by_expert[0]}.' + key[len('head.'):]
        elif m:
            index = int(m.group(1)) + 1
            if index not in by_expert:
                raise KeyError(f'{renamed.origin[key]}: ViTPose+ has no dataset of expert {index}')
            key = f'heads.{by_expert[index]}.{m.group(2)}'
        out[key] = value
    return out, dict(renamed.dropped)


__all__ = ['COCO_HEAD_BEHIND', 'head_dataset', 'official_to_multi_dataset', 'select_dataset', 'short_dataset_name']
