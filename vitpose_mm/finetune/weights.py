# References: ViTPose paper (arXiv 2204.12484) section 3 (backbone + classic decoder: two deconvolutions and a final
# 1x1 conv, one output channel per keypoint); ViTPose++ (arXiv 2212.04246) section 3.3 (task-specific experts in
# each MLP's fc2, one head per dataset); the official tools/model_split.py (expert order).
"""Weights carried from a starting model to the fine-tuned one.

All checkpoint reading goes through the package's one loader (:mod:`vitpose_mm.checkpoints`): every layout it loads
(official, mmpose 1.x, HF folders, ViTPose+ with a dataset, this package's own) works as a start.

- :func:`load_source`: the starting model with its weights, and the names of the keypoints its head predicts.
- :func:`copy_channels_by_name`: the final layer's output channels of keypoints whose names match (one channel per
  keypoint: weight row ``k`` and bias ``k`` produce heatmap ``k``); the others keep their fresh initialisation.
- :func:`carry_weights`: backbone and deconvolutions as they are, the final layer by name.
- :func:`append_expert_and_head`: a ViTPose+ model with one more expert and head, initialised from an existing one.
"""
import copy
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from .errors import FinetuneError
from .names import normal_name

FINAL_LAYER = 'head.final_layer.'
_EXPERT = re.compile(r'^(backbone\.blocks\.\d+\.mlp\.experts)\.(\d+)\.(weight|bias)$')


def build_model(model_cfg: dict, init_heads: bool = False) -> nn.Module:
    """Build a pose model from its config in mmpose's scope; with ``init_heads`` its head(s) get their
    ``init_cfg`` initialisation (std 0.001 for the heatmap heads' convolutions), as when a run starts."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    model = MODELS.build(copy.deepcopy(model_cfg))
    if init_heads:
        heads = model.heads.values() if hasattr(model, 'heads') else [model.head]
        for head in heads:
            head.init_weights()
    return model


def keypoint_names(dataset_meta: Optional[dict]) -> Optional[List[str]]:
    """Keypoint names in channel order from a parsed metainfo (``keypoint_id2name``), or None."""
    if not dataset_meta or 'keypoint_id2name' not in dataset_meta:
        return None
    id2name = dataset_meta['keypoint_id2name']
    return [id2name[i] for i in range(len(id2name))]


def load_source(model_cfg: dict, checkpoint: str, dataset: Optional[str] = None,
                config_meta: Optional[dict] = None) -> Tuple[Dict[str, torch.Tensor], Optional[List[str]], List[str]]:
    """The starting weights as a plain single-dataset state dict: ``(state dict, head keypoint names, notes)``.

    Args:
        model_cfg: the starting config's model (``TopdownPoseEstimator``, or ``MultiDatasetTopdownPoseEstimator``
            with ``dataset`` naming one of its heads).
        checkpoint: any file or HF folder the package loads.
        dataset: ViTPose+ checkpoints: the dataset whose expert and head to keep.
        config_meta: the starting config's dataset metainfo (parsed), for the head's keypoint names when the
            checkpoint records none.

    Returns:
        The state dict has no ``head.*`` for pre-training (backbone-only) weights; the names are None when unknown.

    Raises:
        FinetuneError: the checkpoint does not fit the config (naming both and the loader's diagnosis).
    """
    from vitpose_mm.checkpoints import CheckpointMismatchError, convert_checkpoint, load_checkpoint
    notes: List[str] = []
    try:
        if model_cfg.get('type') == 'MultiDatasetTopdownPoseEstimator':
            from vitpose_mm.checkpoints.multi_dataset import export_dataset
            if dataset is None:
                raise ValueError('a multi-dataset (ViTPose+) start needs --dataset NAME, one of its heads: '
                                 f'{list(model_cfg["heads"])}')
            model = build_model(model_cfg)
            load_checkpoint(model, checkpoint)
            sd, meta, folded = export_dataset(model, dataset)
            return sd, keypoint_names(meta), folded
        model = build_model(model_cfg)
        conv = convert_checkpoint(checkpoint, dataset=dataset, backbone=model.backbone)
        if conv.backbone_only:
            sd = {k: v for k, v in conv.state_dict.items() if k.startswith('backbone.')}
            notes += conv.notes
            return sd, None, notes + ['backbone-only (pre-training) weights: the head starts from its init']
        k = conv.arch.num_keypoints
        if k != model_cfg['head'].get('out_channels'):
            model_cfg = copy.deepcopy(model_cfg)
            model_cfg['head']['out_channels'] = k
            model = build_model(model_cfg)
        loaded = load_checkpoint(model, checkpoint, dataset=dataset)
    except FinetuneError:
        raise
    except (CheckpointMismatchError, ValueError, KeyError, FileNotFoundError, RuntimeError) as e:
        raise FinetuneError(checkpoint, f'cannot start from it: {e.args[0] if isinstance(e, KeyError) else e}',
                            'give the config this checkpoint belongs to (--from), or --dataset for a ViTPose+ '
                            'checkpoint', record='--checkpoint') from e
    names = keypoint_names(loaded.dataset_meta)
    if names is None and config_meta is not None and config_meta.get('num_keypoints') == k:
        names, how = keypoint_names(config_meta), 'the starting config\'s dataset'
    else:
        how = 'the checkpoint\'s dataset_meta'
    notes += loaded.notes + [f'source head: {k} keypoints' + (f' ({how})' if names else ', names unknown')]
    return model.state_dict(), names, notes


def copy_channels_by_name(src_weight: torch.Tensor, src_bias: Optional[torch.Tensor], src_names: Sequence[str],
                          dst_weight: torch.Tensor, dst_bias: Optional[torch.Tensor], dst_names: Sequence[str]
                          ) -> Tuple[torch.Tensor, Optional[torch.Tensor], List[Tuple[str, str]]]:
    """The final layer of ``dst_names`` with the output channels of matching names copied from the source.

    Args:
        src_weight, src_bias: the source final layer, (K_src, C, kh, kw) and (K_src,).
        src_names: the source keypoints in channel order (K_src).
        dst_weight, dst_bias: the fresh final layer, (K, C, kh, kw) and (K,); not modified.
        dst_names: the new keypoints in channel order (K).

    Returns:
        ``(weight, bias, copied)`` with ``copied`` = ``[(new name, source name), ...]``; names match in the normal
        form of :func:`vitpose_mm.finetune.names.normal_name` (``LeftShoulder`` = ``left_shoulder``).

    Raises:
        ValueError: the shapes differ beyond the channel count, or the name lists do not match the channels.
    """
    if src_weight.shape[1:] != dst_weight.shape[1:]:
        raise ValueError(f'final layers differ beyond the keypoint channels: {tuple(src_weight.shape)} vs '
                         f'{tuple(dst_weight.shape)}')
    if len(src_names) != src_weight.shape[0] or len(dst_names) != dst_weight.shape[0]:
        raise ValueError(f'{len(src_names)} / {len(dst_names)} names for {src_weight.shape[0]} / '
                         f'{dst_weight.shape[0]} channels')
    index = {normal_name(n): i for i, n in enumerate(src_names)}
    weight, bias = dst_weight.clone(), None if dst_bias is None else dst_bias.clone()
    copied = []
    for j, name in enumerate(dst_names):
        i = index.get(normal_name(name))
        if i is None:
            continue
        weight[j] = src_weight[i]
        if bias is not None and src_bias is not None:
            bias[j] = src_bias[i]
        copied.append((name, src_names[i]))
    return weight, bias, copied


def carry_weights(src: Dict[str, torch.Tensor], src_names: Optional[Sequence[str]], target: nn.Module,
                  dst_names: Sequence[str], prefix: str = 'head.', dst_prefix: Optional[str] = None,
                  scope: str = '') -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """The target's state dict with the source's weights carried over: ``(state dict, notes)``.

    Every target tensor the source has with the same shape is copied (backbone, deconvolutions, BatchNorm running
    statistics; only keys starting with ``scope``); the final layer ``{dst_prefix}final_layer.*`` takes the channels of matching keypoint names from
    ``{prefix}final_layer.*`` (:func:`copy_channels_by_name`) and keeps its initialisation for the others.

    Raises:
        FinetuneError: a backbone tensor of the target is missing in the source or has another shape.
    """
    dst_prefix = prefix if dst_prefix is None else dst_prefix
    out = target.state_dict()
    notes, fresh = [], []
    for key in list(out):
        if key.startswith(dst_prefix + 'final_layer.') or not key.startswith(scope):
            continue
        src_key = prefix + key[len(dst_prefix):] if key.startswith(dst_prefix) else key
        if src_key in src and src[src_key].shape == out[key].shape:
            out[key] = src[src_key].clone()
        elif key.startswith('backbone.'):
            got = tuple(src[src_key].shape) if src_key in src else 'missing'
            raise FinetuneError('--checkpoint', f'backbone tensor {key}: source {got}, target '
                                f'{tuple(out[key].shape)}', 'start from a config of the checkpoint\'s architecture',
                                record=key)
        elif not key.startswith('data_preprocessor.'):
            fresh.append(key)
    if fresh:
        notes.append(f'{len(fresh)} head tensors not in the source start from their init: {fresh[:4]}')
    w, b = dst_prefix + 'final_layer.weight', dst_prefix + 'final_layer.bias'
    sw, sb = prefix + 'final_layer.weight', prefix + 'final_layer.bias'
    if sw not in src or src_names is None:
        why = 'the source has no head' if sw not in src else 'the source keypoint names are unknown'
        notes.append(f'final layer re-initialised ({len(dst_names)} keypoints): {why}')
        return out, notes
    out[w], bias, copied = copy_channels_by_name(src[sw], src.get(sb), src_names, out[w], out.get(b), dst_names)
    if bias is not None:
        out[b] = bias
    fresh_names = [n for n in dst_names if n not in {c[0] for c in copied}]
    notes.append(f'final layer: {len(copied)} of {len(dst_names)} keypoint channels copied by name '
                 f'{[f"{a}<-{s}" if a != s else a for a, s in copied]}; re-initialised: {fresh_names}')
    return out, notes


def append_expert_and_head(old: Dict[str, torch.Tensor], target: nn.Module, new_head: str, from_head: str,
                           from_names: Sequence[str], new_names: Sequence[str]) -> Tuple[Dict[str, torch.Tensor],
                                                                                          List[str]]:
    """The state dict of ``target`` (a ViTPose+ model with one more expert and head than ``old``): the old tensors
    as they are, the new expert a copy of ``from_head``'s expert, the new head's deconvolutions ``from_head``'s and
    its final layer by keypoint name (:func:`carry_weights`). Returns ``(state dict, notes)``.

    Raises:
        FinetuneError: a tensor of the old model is missing in the target or has another shape.
    """
    out = target.state_dict()
    for key, value in old.items():
        if key not in out or out[key].shape != value.shape:
            raise FinetuneError('--checkpoint', f'{key} of the trained model does not fit the extended model',
                                'start from the config the checkpoint was trained with', record=key)
        out[key] = value.clone()
    src_expert, new_expert = target.experts[from_head], target.experts[new_head]
    copied = 0
    for key in list(out):
        m = _EXPERT.match(key)
        if m and int(m.group(2)) == new_expert:
            out[key] = old[f'{m.group(1)}.{src_expert}.{m.group(3)}'].clone()
            copied += 1
    notes = [f'new expert {new_expert} ({new_head}) starts as a copy of expert {src_expert} ({from_head}) '
             f'({copied // 2} blocks)'] if copied else []
    head_src = {k: v for k, v in old.items() if k.startswith(f'heads.{from_head}.')}
    head_sd, head_notes = carry_weights(head_src, from_names, target, new_names, prefix=f'heads.{from_head}.',
                                        dst_prefix=f'heads.{new_head}.', scope=f'heads.{new_head}.')
    for key, value in head_sd.items():
        if key.startswith(f'heads.{new_head}.'):
            out[key] = value
    return out, notes + [f'new head {new_head}: deconvolutions from {from_head}; ' + n for n in head_notes]


__all__ = ['build_model', 'keypoint_names', 'load_source', 'copy_channels_by_name', 'carry_weights',
           'append_expert_and_head']
