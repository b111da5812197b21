"""The starting model of a fine-tuning run (``--from``, ``--checkpoint``, ``--dataset``) and the initial weights of
the new model.

``--from`` is a config (a file or a shipped config name) or an HF ViTPose / ViTPose+ ``save_pretrained`` folder,
for which the shipped config of its architecture is taken (:meth:`vitpose_mm.checkpoints.Arch.config_name`, with the
options its size needs). A ViTPose+ (multi-dataset) config starts a single-dataset model from one of its datasets
(``--dataset``), or gets one more dataset (``--add-dataset``).
"""
import copy
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from .errors import FinetuneError
from .names import normal_name
from .weights import append_expert_and_head, build_model, carry_weights, keypoint_names, load_source


@dataclass
class Start:
    cfg: object  # mmengine Config of the starting model (for a ViTPose+ start to one dataset: that dataset's model)
    source: str  # --from as given, for messages
    checkpoint: Optional[str]
    dataset: Optional[str]
    model_cfg: dict  # the model the checkpoint loads into (the ViTPose+ model itself for a ViTPose+ start)
    notes: List[str] = field(default_factory=list)


def dataset_meta(dataset_cfg: dict) -> dict:
    """The parsed metainfo of an mmpose dataset config (its ``metainfo``, else its class's ``METAINFO``)."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.registry import DATASETS
    meta = dataset_cfg.get('metainfo') or DATASETS.get(dataset_cfg['type']).METAINFO
    return parse_pose_metainfo(copy.deepcopy(dict(meta)))


def _leaves(dataset_cfg: dict) -> List[dict]:
    if dataset_cfg.get('datasets'):
        return [leaf for d in dataset_cfg['datasets'] for leaf in _leaves(d)]
    if dataset_cfg.get('dataset'):
        return _leaves(dataset_cfg['dataset'])
    return [dataset_cfg]


def head_metas(cfg) -> Dict[str, dict]:
    """``{dataset_name: parsed metainfo}`` of the training and validation datasets of a config."""
    out = {}
    loaders = [cfg.get(k) for k in ('train_dataloader', 'val_dataloader')]
    for leaf in [leaf for loader in loaders if loader for leaf in _leaves(loader.dataset)]:
        try:
            meta = dataset_meta(leaf)
        except (KeyError, AssertionError, FileNotFoundError):
            continue
        out.setdefault(meta['dataset_name'], meta)
    return out


def read_start(start: str, checkpoint: Optional[str], dataset: Optional[str], add_dataset: bool = False) -> Start:
    """Read ``--from`` (and check it against ``--checkpoint`` / ``--dataset``); loads no weights yet.

    Raises:
        FinetuneError: config not found; an HF folder with ``--checkpoint`` too; a ViTPose+ config without
            ``--dataset`` (and without ``--add-dataset``) or ``--add-dataset`` without a checkpoint.
    """
    from vitpose_mm.utils import load_config
    notes = []
    if osp.isdir(start):
        from vitpose_mm.checkpoints import convert_checkpoint
        if checkpoint:
            raise FinetuneError(start, 'an HF folder is the starting model itself', 'drop --checkpoint',
                                record='--checkpoint')
        try:
            arch = convert_checkpoint(start, dataset=dataset).arch
        except (ValueError, KeyError, FileNotFoundError, RuntimeError) as e:
            raise FinetuneError(start, f'not a model folder the package reads: {e}', 'give an HF ViTPose '
                                'save_pretrained folder or a config', record='--from') from e
        cfg = load_config(arch.config_name(), arch.cfg_options())
        notes.append(f'HF folder: {arch.describe()}; config {arch.config_name()} {arch.cfg_options_text()}')
        checkpoint = start
    else:
        try:
            cfg = load_config(start)
        except FileNotFoundError as e:
            raise FinetuneError(start, str(e), 'give a config file or a shipped config name (or an HF folder)',
                                record='--from') from e
    if checkpoint and not osp.exists(checkpoint):
        raise FinetuneError(checkpoint, 'checkpoint not found', 'give an existing checkpoint file or HF folder',
                            record='--checkpoint')
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.model.get('type') == 'MultiDatasetTopdownPoseEstimator':
        if add_dataset:
            if not checkpoint:
                raise FinetuneError(start, 'adding a dataset needs the trained model', 'give --checkpoint',
                                    record='--checkpoint')
        else:
            from .config import plain_config_of
            if dataset is None:
                raise FinetuneError(start, 'a ViTPose+ (multi-dataset) config: which dataset to start from?',
                                    f'add --dataset NAME, one of {list(cfg.model.heads)} (or --add-dataset to '
                                    'extend the model)', record='--dataset')
            cfg = plain_config_of(cfg, dataset, start)
            notes.append(f'ViTPose+ start: the {dataset} expert folded into fc2, its head kept')
    elif add_dataset:
        raise FinetuneError(start, 'not a ViTPose+ (multi-dataset) config', 'start from the ViTPose+ config the '
                            'checkpoint was trained with', record='--add-dataset')
    return Start(cfg, start, checkpoint, dataset, model_cfg, notes)


def init_plain(start: Start, cfg, names: Sequence[str]) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Initial weights of the fine-tuned single-dataset model: the start's backbone and deconvolutions, the final
    layer's channels by keypoint name. Returns ``(state dict, notes)``."""
    leaf = _leaves(start.cfg.train_dataloader.dataset)[0]
    try:
        config_meta = dataset_meta(leaf)
    except (KeyError, AssertionError, FileNotFoundError):
        config_meta = None
    src, src_names, notes = load_source(start.model_cfg, start.checkpoint, start.dataset, config_meta)
    target = build_model(cfg.model, init_heads=True)
    sd, carry_notes = carry_weights(src, src_names, target, list(names))
    return sd, notes + carry_notes


def closest_head(metas: Dict[str, dict], names: Sequence[str], heads: Sequence[str]) -> Tuple[str, int]:
    """The head whose keypoint names share the most (normal-form) names with ``names``: ``(head, shared)``; the
    first head on a tie."""
    want = {normal_name(n) for n in names}
    best, shared = heads[0], -1
    for head in heads:
        have = {normal_name(n) for n in (keypoint_names(metas.get(head)) or [])}
        if len(want & have) > shared:
            best, shared = head, len(want & have)
    return best, shared


def init_added_dataset(start: Start, cfg, name: str, names: Sequence[str]) -> Tuple[Dict[str, torch.Tensor],
                                                                                     List[str]]:
    """Initial weights of a ViTPose+ model with one more dataset: the trained model as it is, the new expert a copy
    of the expert of the dataset closest in keypoint names, the new head from that dataset's head (final layer by
    name). Returns ``(state dict, notes)``.

    Raises:
        FinetuneError: the checkpoint does not load into the starting config.
    """
    from vitpose_mm.checkpoints import load_checkpoint
    old = build_model(start.model_cfg)
    try:
        load_checkpoint(old, start.checkpoint)
    except (ValueError, KeyError, RuntimeError) as e:
        raise FinetuneError(start.checkpoint, f'does not load into {start.source}: {e}',
                            'give the config the checkpoint was trained with', record='--checkpoint') from e
    metas = head_metas(start.cfg)
    heads = list(old.heads)
    from_head, shared = closest_head(metas, names, heads)
    target = build_model(cfg.model, init_heads=True)
    sd, notes = append_expert_and_head(old.state_dict(), target, name, from_head,
                                       keypoint_names(metas.get(from_head)), list(names))
    return sd, [f'{from_head} is the closest dataset ({shared} shared keypoint names)'] + notes


__all__ = ['Start', 'read_start', 'init_plain', 'init_added_dataset', 'dataset_meta', 'head_metas', 'closest_head']
