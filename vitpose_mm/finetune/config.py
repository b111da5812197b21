# References: ViTPose paper (arXiv 2204.12484) section 4.1 and the official configs (AdamW, layer-wise lr decay,
# 210 epochs with x0.1 steps at 170 and 200, 500-iteration linear warm-up, UDP heatmaps); mmengine 0.10.7 Config.
"""The config a fine-tuning run writes: the starting config with the new keypoints, data, schedule and weights.

:func:`finetune_config` turns a single-dataset top-down config into one for a COCO-format dataset of other keypoints
(head channels, metainfo file, data paths, ground-truth boxes, evaluation with the dataset's OKS sigmas, a schedule
scaled to the dataset's size, layer-wise lr decay when starting from weights). :func:`plain_config_of` makes the
single-dataset model of one dataset of a ViTPose+ config; :func:`add_dataset_config` extends a ViTPose+ config by one
dataset (expert + head) that alone trains.
"""
import copy
import math
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from mmengine.config import Config, ConfigDict

from .errors import FinetuneError

TARGET_STEPS = 3000  # default schedule: about this many iterations, within [MIN_EPOCHS, MAX_EPOCHS]
MIN_EPOCHS, MAX_EPOCHS = 10, 210
FINETUNE_LAYER_DECAY = 0.75  # ViT-B's rate in the official configs; used when the start config trains without decay
MAX_WARMUP = 500  # iterations, as in the official configs
HEADS = ('TopdownHeatmapSimpleHead', 'HeatmapHead')


def scaled_schedule(num_instances: int, batch_size: int, epochs: Optional[int] = None) -> Tuple[int, int, List[int]]:
    """``(epochs, warm-up iterations, lr step epochs)`` for a dataset of ``num_instances`` people.

    Without ``epochs``: enough epochs for about :data:`TARGET_STEPS` iterations, clamped to [10, 210]. The warm-up is
    10% of the iterations (at most 500); the x0.1 steps are at 170/210 and 200/210 of the epochs, as the ViTPose
    recipe has them.
    """
    per_epoch = max(1, math.ceil(num_instances / batch_size))
    if epochs is None:
        epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(TARGET_STEPS / per_epoch)))
    warmup = max(1, min(MAX_WARMUP, epochs * per_epoch // 10))
    steps = sorted({max(1, round(epochs * 170 / 210)), max(1, round(epochs * 200 / 210))})
    return epochs, warmup, [s for s in steps if s < epochs]


def check_model(cfg: Config, source: str) -> None:
    """Refuse a start the written config cannot take: not a ViT top-down heatmap model, or an input size that is no
    whole number of patches or disagrees with the codec's.

    Raises:
        FinetuneError: naming the config and the field at fault.
    """
    model = cfg.model
    kind = model.get('type')
    if not _is_topdown(kind):
        raise FinetuneError(source, f'model type {kind!r}: fine-tuning takes top-down ViTPose models',
                            'start from a ViTPose config (configs/coco, configs/demo, configs/vitpose_plus)',
                            record='model.type')
    backbone = model.backbone
    if backbone.get('type') != 'ViT':
        raise FinetuneError(source, f'backbone {backbone.get("type")!r} is not ViTPose\'s ViT',
                            'start from a ViTPose config', record='model.backbone.type')
    heads = list(model.heads.values()) if 'heads' in model else [model.head]
    for head in heads:
        if head.get('type') not in HEADS:
            raise FinetuneError(source, f'head {head.get("type")!r} is not a heatmap head {HEADS}',
                                'start from a ViTPose heatmap config', record='model.head.type')
    size = backbone.get('img_size', (256, 192))
    size = (size, size) if isinstance(size, int) else tuple(size)
    patch = backbone.get('patch_size', 16)
    patch = (patch, patch) if isinstance(patch, int) else tuple(patch)
    if any(s % p for s, p in zip(size, patch)):
        raise FinetuneError(source, f'input size {size} is not a whole number of {patch} patches',
                            'set model.backbone.img_size to a multiple of the patch size', record='model.backbone.img_size')
    for head in heads:
        codec = head.get('decoder') or {}
        if 'input_size' in codec and tuple(codec['input_size'])[::-1] != size:
            raise FinetuneError(source, f'the codec\'s input_size (w, h) {tuple(codec["input_size"])} is not the '
                                f'backbone\'s img_size (h, w) {size}', 'make them agree (--cfg-options)',
                                record='model.head.decoder.input_size')


def _is_topdown(kind) -> bool:
    """``kind`` names mmpose's ``TopdownPoseEstimator`` or a registered subclass of it."""
    from mmengine.registry import init_default_scope
    from mmpose.models.pose_estimators import TopdownPoseEstimator
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    cls = MODELS.get(kind) if isinstance(kind, str) else None
    return isinstance(cls, type) and issubclass(cls, TopdownPoseEstimator)


def _pipeline(dataset: dict) -> list:
    while 'pipeline' not in dataset or not dataset['pipeline']:
        inner = dataset.get('dataset') or (dataset.get('datasets') or [None])[0]
        if inner is None:
            return []
        dataset = inner
    return copy.deepcopy(dataset['pipeline'])


def _first_leaf(dataset: dict) -> dict:
    while dataset.get('datasets') or dataset.get('dataset'):
        dataset = dataset.get('dataset') or dataset['datasets'][0]
    return dataset


def coco_dataset(ann_file: str, img_dir: str, metainfo_file: str, pipeline: list, test_mode: bool = False) -> dict:
    """mmpose's ``CocoDataset`` on a custom file, with its metainfo file; absolute paths."""
    d = dict(type='CocoDataset', data_root='', data_mode='topdown', ann_file=ann_file,
             data_prefix=dict(img=img_dir.rstrip('/') + '/'), metainfo=dict(from_file=metainfo_file),
             pipeline=pipeline)
    if test_mode:
        d['test_mode'] = True
    return d


def _loader(template: dict, dataset: dict, batch_size: Optional[int] = None) -> dict:
    loader = copy.deepcopy(dict(template))
    loader['dataset'] = dataset
    loader.pop('batch_sampler', None)  # e.g. DatasetBatchSampler of a multi-dataset config
    if batch_size is not None:
        loader['batch_size'] = batch_size
    return loader


def _no_flip(pipeline: list) -> list:
    return [t for t in pipeline if t.get('type') != 'RandomFlip']


def set_schedule(cfg: Config, num_instances: int, epochs: Optional[int], from_weights: bool,
                 notes: List[str]) -> None:
    """Batch size (at most the dataset's people), learning rate scaled to it, layer decay, epochs, warm-up, lr
    steps, validation and checkpoint intervals."""
    loader = cfg.train_dataloader
    old_batch = loader.batch_size
    batch = max(1, min(old_batch, num_instances))
    loader.batch_size = batch
    opt = cfg.optim_wrapper.optimizer
    base = (cfg.get('auto_scale_lr') or {}).get('base_batch_size', old_batch)
    lr = opt.lr * batch / base
    notes.append(f'lr {lr:.3g}: the start config\'s {opt.lr:g} for {base} images per step, scaled to {batch}')
    opt.lr = lr
    paramwise = cfg.optim_wrapper.get('paramwise_cfg') or {}
    if from_weights and paramwise.get('layer_decay_rate', 1.0) >= 1.0 and \
            cfg.optim_wrapper.get('constructor') == 'ViTPoseLayerDecayOptimWrapperConstructor':
        paramwise['layer_decay_rate'] = FINETUNE_LAYER_DECAY
        notes.append(f'layer-wise lr decay {FINETUNE_LAYER_DECAY} (the start config trains from scratch without '
                     'decay; fine-tuning from weights uses the ViTPose recipe\'s)')
    epochs, warmup, steps = scaled_schedule(num_instances, batch, epochs)
    notes.append(f'{epochs} epochs of {math.ceil(num_instances / batch)} iterations ({num_instances} people, '
                 f'batch {batch}), {warmup}-iteration warm-up, lr x0.1 at epochs {steps}')
    cfg.train_cfg = ConfigDict(by_epoch=True, max_epochs=epochs, val_interval=max(1, epochs // 5))
    cfg.param_scheduler = [
        dict(type='LinearLR', begin=0, end=warmup, start_factor=0.001, by_epoch=False),
        dict(type='MultiStepLR', begin=0, end=epochs, milestones=steps, gamma=0.1, by_epoch=True)]
    cfg.pop('auto_scale_lr', None)
    hooks = cfg.setdefault('default_hooks', ConfigDict())
    hooks['checkpoint'] = dict(type='CheckpointHook', interval=cfg.train_cfg.val_interval, max_keep_ckpts=1)
    cfg.max_epochs = epochs


def finetune_config(cfg: Config, *, num_keypoints: int, metainfo_file: str, train: Tuple[str, str],
                    val: Optional[Tuple[str, str]], num_instances: int, use_area: bool, flip: bool,
                    epochs: Optional[int], load_from: Optional[str], work_dir: str) -> Tuple[Config, List[str]]:
    """The written config of a single-dataset fine-tuning run: ``(config, notes)``.

    Args:
        cfg: the starting single-dataset config (already checked by :func:`check_model`).
        train, val: ``(annotation file, image folder)``; without ``val`` nothing is validated or tested.
        use_area: OKS with the annotations' ``area`` (CocoMetric ``use_area``).
        flip: keep the start config's flip augmentation and flip test (False: both off).
        load_from: the initial weights (None: from scratch).
    """
    cfg = copy.deepcopy(cfg)
    notes: List[str] = []
    model = cfg.model
    model.head.out_channels = num_keypoints
    if model.backbone.pop('init_cfg', None) is not None and load_from:
        notes.append('dropped the backbone\'s init_cfg: the backbone starts from the starting model')
    test_cfg = model.setdefault('test_cfg', ConfigDict())
    test_cfg['flip_test'] = bool(flip and test_cfg.get('flip_test', False))
    train_pipeline = _pipeline(cfg.train_dataloader.dataset)
    val_pipeline = _pipeline((cfg.get('val_dataloader') or {}).get('dataset') or cfg.train_dataloader.dataset)
    if not flip:
        train_pipeline = _no_flip(train_pipeline)
    cfg.train_dataloader = _loader(cfg.train_dataloader, coco_dataset(*train, metainfo_file, train_pipeline))
    if val:
        cfg.val_dataloader = _loader(cfg.get('val_dataloader') or cfg.train_dataloader,
                                     coco_dataset(*val, metainfo_file, val_pipeline, test_mode=True))
        cfg.val_dataloader.sampler = dict(type='DefaultSampler', shuffle=False, round_up=False)
        cfg.val_dataloader.drop_last = False
        cfg.val_evaluator = dict(type='CocoMetric', ann_file=val[0], use_area=use_area)
        cfg.val_cfg = cfg.test_cfg = ConfigDict()
        cfg.test_dataloader, cfg.test_evaluator = copy.deepcopy(cfg.val_dataloader), copy.deepcopy(cfg.val_evaluator)
    else:
        for key in ('val_dataloader', 'val_evaluator', 'val_cfg', 'test_dataloader', 'test_evaluator', 'test_cfg'):
            cfg[key] = None
        notes.append('no --val-ann: no validation during training, and nothing for tools/test.py to evaluate')
    if not use_area:
        notes.append('the annotations have no area: OKS uses the box area (CocoMetric use_area=False)')
    set_schedule(cfg, num_instances, epochs, load_from is not None, notes)
    for key in ('data_root', 'bbox_file', 'dataset_type'):
        cfg.pop(key, None)
    cfg.runner_type = cfg.get('runner_type', 'ViTPoseRunner')
    cfg.load_from, cfg.resume, cfg.work_dir = load_from, False, work_dir
    return cfg, notes


def plain_config_of(cfg: Config, dataset: str, source: str) -> Config:
    """The single-dataset (``TopdownPoseEstimator``) config of one dataset of a multi-dataset config: its head, the
    backbone without experts (the expert is folded in by the export), its sub-dataset's pipelines.

    Raises:
        FinetuneError: ``dataset`` has no head in ``cfg``.
    """
    cfg = copy.deepcopy(cfg)
    model = cfg.model
    if dataset not in model.heads:
        raise FinetuneError(source, f'--dataset {dataset!r} has no head in this config', f'give one of '
                            f'{list(model.heads)}', record='--dataset')
    backbone = model.backbone
    backbone.pop('num_expert', None)
    backbone.pop('part_features', None)
    keep = ('type', 'heads', 'experts', 'eval_with', 'trainable')
    cfg.model = dict(type='TopdownPoseEstimator', backbone=backbone, head=model.heads[dataset],
                     **{k: v for k, v in model.items() if k not in keep and k != 'backbone'})
    leaves = cfg.train_dataloader.dataset.get('datasets') or [cfg.train_dataloader.dataset]
    names = list(model.heads)
    leaf = leaves[names.index(dataset)] if len(leaves) == len(names) else leaves[0]
    cfg.train_dataloader.dataset = copy.deepcopy(leaf)
    vals = (cfg.get('val_dataloader') or {}).get('dataset', {}).get('datasets')
    if vals:
        cfg.val_dataloader.dataset = copy.deepcopy(vals[min(names.index(dataset), len(vals) - 1)])
    return cfg


def extend_model_cfg(model: dict, name: str, num_keypoints: int, train_shared: bool = False
                     ) -> Tuple[dict, List[str], List[str]]:
    """A ViTPose+ model config with one more expert and head (a copy of the first head's config with
    ``num_keypoints`` channels) for dataset ``name``, and ``trainable`` set to the new expert and head (and, with
    ``train_shared``, every backbone weight but the experts): ``(model config, trainable patterns, notes)``.

    Raises:
        FinetuneError: ``name`` is a dataset of the model already; the backbone has no experts.
    """
    model = copy.deepcopy(model)
    if name in model['heads']:
        raise FinetuneError('--add-dataset', f'{name!r} is a dataset of the model already ({list(model["heads"])})',
                            'give the new dataset another name', record=name)
    backbone = model['backbone']
    if not backbone.get('part_features'):
        raise FinetuneError('--from', 'the model has no experts (part_features=0): nothing to add an expert to',
                            'start from a ViTPose+ config (num_expert, part_features)', record='model.backbone')
    experts = dict(model.get('experts') or {n: i for i, n in enumerate(model['heads'])})
    new_expert = backbone.get('num_expert', 1)
    backbone['num_expert'] = new_expert + 1
    first = next(iter(model['heads']))
    model['heads'][name] = dict(copy.deepcopy(model['heads'][first]), out_channels=num_keypoints)
    experts[name] = new_expert
    model['experts'] = experts
    trainable = [rf'backbone\.blocks\.\d+\.mlp\.experts\.{new_expert}\..+', rf'heads\.{name}\..+']
    notes = []
    if train_shared:
        trainable.append(r'backbone\.(?!blocks\.\d+\.mlp\.experts\.).+')
        notes.append('--train-shared: the shared backbone weights train too (the old datasets\' results change)')
    model['trainable'] = trainable
    notes.append(f'expert {new_expert} and head {name!r} ({num_keypoints} keypoints) added; trainable: {trainable}')
    return model, trainable, notes


def add_dataset_config(cfg: Config, *, name: str, num_keypoints: int, metainfo_file: str, train: Tuple[str, str],
                       val: Optional[Tuple[str, str]], num_instances: int, use_area: bool, epochs: Optional[int],
                       load_from: str, work_dir: str, train_shared: bool = False) -> Tuple[Config, List[str]]:
    """A ViTPose+ config with one more dataset: ``(config, notes)``.

    The backbone gets one more expert (``num_expert + 1``, the new dataset's), the model a head for it; only the new
    expert and head train (``trainable``), with ``train_shared`` also the shared backbone weights (the old datasets'
    experts and heads stay frozen either way). Training reads the new dataset only; validation every dataset, each
    with its own metric.

    Raises:
        FinetuneError: see :func:`extend_model_cfg`.
    """
    cfg = copy.deepcopy(cfg)
    notes: List[str] = []
    cfg.model, trainable, model_notes = extend_model_cfg(cfg.model, name, num_keypoints, train_shared)
    notes += model_notes
    leaf = _first_leaf(cfg.train_dataloader.dataset)
    flip = any(t.get('type') == 'RandomFlip' for t in _pipeline(leaf))
    new_train = coco_dataset(*train, metainfo_file, _pipeline(leaf))
    combined = cfg.train_dataloader.dataset
    combined['datasets'] = [new_train]
    cfg.train_dataloader = _loader(cfg.train_dataloader, combined)
    if val:
        vleaf = _first_leaf(cfg.val_dataloader.dataset)
        new_val = coco_dataset(*val, metainfo_file, _pipeline(vleaf), test_mode=True)
        cfg.val_dataloader.dataset.datasets.append(new_val)
        ev = cfg.val_evaluator
        ev.datasets.append({k: v for k, v in new_val.items() if k != 'pipeline'})
        ev.metrics.append(dict(type='CocoMetric', ann_file=val[0], use_area=use_area))
        cfg.test_dataloader, cfg.test_evaluator = copy.deepcopy(cfg.val_dataloader), copy.deepcopy(cfg.val_evaluator)
    if flip:
        notes.append('the start config flips: the new dataset\'s flip pairs come from its metainfo file')
    set_schedule(cfg, num_instances, epochs, False, notes)
    top = {key: cfg[key] for key in cfg.keys()}
    _absolute_paths(top)
    cfg.merge_from_dict({k: v for k, v in top.items() if isinstance(v, str)})
    cfg.runner_type = cfg.get('runner_type', 'ViTPoseRunner')
    cfg.load_from, cfg.resume, cfg.work_dir = load_from, False, work_dir
    return cfg, notes


def _absolute_paths(node) -> None:
    """``data_root`` and ``ann_file`` values that are paths relative to the working directory, made absolute (so
    that the written config runs from anywhere)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ('data_root', 'ann_file') and isinstance(value, str) and value and not osp.isabs(value) \
                    and osp.exists(value):
                node[key] = osp.abspath(value) + ('/' if value.endswith('/') else '')
            else:
                _absolute_paths(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            _absolute_paths(item)


__all__ = ['scaled_schedule', 'check_model', 'finetune_config', 'plain_config_of', 'add_dataset_config', 'extend_model_cfg',
           'coco_dataset', 'TARGET_STEPS', 'FINETUNE_LAYER_DECAY']
