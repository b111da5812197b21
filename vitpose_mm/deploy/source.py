"""What is exported: config + checkpoint -> a plain single-dataset ViTPose in eval mode, and the facts a runtime needs.

Two kinds of config give the exported model:

- a **single-dataset** config (``TopdownPoseEstimator``): the model mmpose's ``init_model`` builds, its checkpoint
  loaded through the package's one loading path (:func:`vitpose_mm.checkpoints.load_checkpoint`), as
  ``PoseEstimator.from_config`` does. An official ViTPose+ release loads into it with ``dataset`` (the loader folds
  that dataset's expert and keeps its head);
- a **multi-dataset** config (``MultiDatasetTopdownPoseEstimator``, ``configs/vitpose_plus/``) with its own
  checkpoint or an official ViTPose+ release: loaded whole, then folded to the dataset ``dataset`` by
  :func:`vitpose_mm.checkpoints.multi_dataset.export_dataset` (its expert into every ``mlp.fc2``, its head as
  ``head``) and loaded strictly into the plain model that config describes for that dataset.

The dataset_meta follows ``PoseEstimator``: the checkpoint's (mmengine writes it into ``meta``) over the config's; for
a multi-dataset config it is the chosen dataset's mmpose metainfo.
"""
import logging
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import print_log

from vitpose_mm.utils import check_model_types, load_config

MULTI_DATASET = 'MultiDatasetTopdownPoseEstimator'
TOPDOWN = ('TopdownPoseEstimator', 'BatchFlipTopdownPoseEstimator')  # one head: exported as it is


@dataclass
class ExportSource:
    """A plain top-down ViTPose ready to export, with what a runtime needs to use its heatmaps.

    Attributes:
        model: an mmpose ``TopdownPoseEstimator`` (one head), eval mode, fp32, on the CPU.
        cfg: the config it was built from (options merged; for a multi-dataset config, the whole multi-dataset one).
        dataset_meta: keypoint names, flip indices, skeleton ... (``parse_pose_metainfo`` format, numpy arrays kept).
        input_size: (w, h) of a crop in pixels.
        data_preprocessor: the model's ``data_preprocessor`` config (``mean``, ``std``, ``bgr_to_rgb``).
        codec: the head's decoder config (e.g. ``UDPHeatmap``).
        test_cfg: flip test settings (``flip_test``, ``flip_mode``, ``shift_heatmap``).
        test_pipeline: the config's test pipeline (``LoadImage`` ... ``PackPoseInputs``) that cuts the crops.
        dataset: the folded ViTPose+ dataset, or None.
        notes: what the loading did (conversion, folding).
        data_mode: ``'topdown'``, or ``'bottomup'`` (mmpose's ``BottomupPoseEstimator``: whole images resized by
            ``BottomupResize``; :mod:`vitpose_mm.deploy.bottomup`).
        output_names: the graph's outputs (the head's maps).
        head: bottom-up only: the head config (its ``predict`` decodes the maps at run time).
    """
    model: nn.Module
    cfg: Config
    dataset_meta: dict
    input_size: Tuple[int, int]
    data_preprocessor: dict
    codec: dict
    test_cfg: dict
    test_pipeline: List[dict]
    dataset: Optional[str] = None
    notes: List[str] = field(default_factory=list)
    data_mode: str = 'topdown'  # or 'bottomup': BottomupPoseEstimator, whole images, every head output exported
    output_names: Tuple[str, ...] = ('heatmaps', )
    head: Optional[dict] = None  # bottom-up: the head config a runtime rebuilds for its predict


def build_export_source(config: str, checkpoint: Optional[str] = None, dataset: Optional[str] = None,
                        cfg_options: Optional[dict] = None) -> ExportSource:
    """Build the model of ``config`` and load ``checkpoint`` into it (see the module docstring).

    Args:
        config: a config file, or the name of a shipped config.
        checkpoint: any checkpoint the package's loader reads (file, URL, HF folder); None keeps random weights (a
            warning is logged).
        dataset: ViTPose+ only: the dataset whose expert and head to keep. Required for a multi-dataset config (one
            of its heads); for a single-dataset config it is passed to the loader (official ViTPose+ files).
        cfg_options: config overrides (``--cfg-options``), ``{'a.b': value}``.

    Raises:
        FileNotFoundError: no such config or checkpoint. ValueError: ``dataset`` missing or unknown (the message lists
        the accepted names), a config that is neither top-down nor bottom-up, a bottom-up head that cannot be
        exported (:func:`vitpose_mm.deploy.bottomup.output_names`). CheckpointMismatchError: the checkpoint does not fit.
    """
    cfg = load_config(config, cfg_options)
    check_model_types(cfg)
    if checkpoint is not None and '://' not in checkpoint and not osp.exists(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    model_type = cfg.model.get('type')
    if model_type == MULTI_DATASET:
        return _from_multi_dataset(cfg, config, checkpoint, dataset)
    bottomup = model_type == 'BottomupPoseEstimator'
    if bottomup:
        from .bottomup import output_names
        output_names(cfg.model.head)  # a head that cannot be split into graph + Python decoding stops here
    elif model_type not in TOPDOWN:
        raise ValueError(f'{config}: model type {model_type!r} is not exported; accepted: {", ".join(TOPDOWN)}, '
                         f'BottomupPoseEstimator, {MULTI_DATASET}')
    if dataset is not None and checkpoint is None:
        raise ValueError(f'dataset={dataset!r} picks the expert of a ViTPose+ checkpoint, but no checkpoint is given '
                         f'and {config} is a single-dataset config')
    model = _init_model(cfg)
    notes: List[str] = []
    if checkpoint is None:
        print_log('no checkpoint given: the exported model has random weights', 'current', logging.WARNING)
    else:
        from vitpose_mm.checkpoints import load_checkpoint
        loaded = load_checkpoint(model, checkpoint, dataset=dataset, config=config)
        notes = list(loaded.notes)
        meta = loaded.checkpoint.get('meta') or {}
        if 'dataset_meta' in meta:  # as init_model and PoseEstimator do: the checkpoint's skeleton wins
            model.dataset_meta = meta['dataset_meta']
    source = ExportSource(model.eval(), cfg, model.dataset_meta, _input_size(model.head.decoder),
                          dict(cfg.model.data_preprocessor), dict(cfg.model.head.decoder), dict(model.test_cfg),
                          _test_pipeline(cfg), dataset, notes)
    if bottomup:
        from .bottomup import head_config, output_names
        source.data_mode, source.output_names, source.head = 'bottomup', output_names(cfg.model.head), \
            head_config(cfg)
    return source


def _from_multi_dataset(cfg: Config, config: str, checkpoint: Optional[str], dataset: Optional[str]) -> ExportSource:
    from vitpose_mm.checkpoints import detect_layout, load_state_dict, read_checkpoint, state_dict_of
    from vitpose_mm.checkpoints.multi_dataset import export_dataset, official_to_multi_dataset
    heads = list(cfg.model.heads)
    if dataset is None or dataset not in heads:
        what = 'needs --dataset' if dataset is None else f'has no head for dataset {dataset!r}'
        raise ValueError(f'{config} is a multi-dataset (ViTPose+) config and {what}: one of {heads}')
    multi = _init_model(cfg)
    notes: List[str] = []
    if checkpoint is None:
        print_log('no checkpoint given: the exported model has random weights', 'current', logging.WARNING)
    else:
        ckpt = read_checkpoint(checkpoint)
        sd = state_dict_of(ckpt, checkpoint)
        if detect_layout(list(sd)) == 'official':  # an official ViTPose+ release: all experts and heads
            sd, dropped = official_to_multi_dataset(sd)
            notes.append(f'official ViTPose+ release renamed to the multi-dataset names ({len(dropped)} dropped)')
            ckpt = None
        load_state_dict(multi, sd, checkpoint, ckpt, config=config)
    sd, dataset_meta, fold_notes = export_dataset(multi, dataset)
    plain_cfg = dict(type='TopdownPoseEstimator', data_preprocessor=cfg.model.get('data_preprocessor'),
                     backbone=dict(cfg.model.backbone, num_expert=1, part_features=0, default_dataset=0),
                     head=cfg.model.heads[dataset], test_cfg=cfg.model.get('test_cfg'))
    from mmpose.registry import MODELS
    plain = MODELS.build(plain_cfg)
    load_state_dict(plain, sd, f'{checkpoint or "random weights"} ({dataset} folded)', config=config)
    plain.dataset_meta = dataset_meta
    return ExportSource(plain.eval(), cfg, dataset_meta, _input_size(plain.head.decoder),
                        dict(cfg.model.data_preprocessor), dict(cfg.model.heads[dataset].decoder),
                        dict(plain.test_cfg), _test_pipeline(cfg), dataset, notes + fold_notes)


def _init_model(cfg: Config) -> nn.Module:
    from mmpose.apis import init_model
    return init_model(cfg, None, device='cpu')


def _input_size(codec) -> Tuple[int, int]:
    w, h = codec.input_size
    return int(w), int(h)


def _test_pipeline(cfg: Config) -> List[dict]:
    """The test dataset's pipeline; of a ``CombinedDataset``, the one pipeline its datasets share."""
    dataset = cfg.test_dataloader.dataset
    if 'pipeline' in dataset and dataset.pipeline and dataset.get('type') != 'CombinedDataset':
        return [dict(t) for t in dataset.pipeline]
    pipelines: Dict[str, List[dict]] = {}
    for sub in dataset.get('datasets', []):
        pipelines[repr(sub.pipeline)] = [dict(t) for t in sub.pipeline]
    if len(pipelines) != 1:
        raise ValueError(f'the test datasets have {len(pipelines)} different pipelines; the exported model needs one '
                         '(LoadImage, GetBBoxCenterScale, TopdownAffine, PackPoseInputs)')
    return next(iter(pipelines.values()))


__all__ = ['ExportSource', 'build_export_source', 'MULTI_DATASET']
