"""Training learns: a few dozen steps on a handful of synthetic person crops drive the loss well down.

A tiny version of the demo model (the demo config with 2 blocks of 64 channels) is trained through the real pieces:
mmpose's dataset, pipeline (affine crop, UDP heatmap targets) and ``PoseDataPreprocessor``, this package's ``ViT``,
``TopdownHeatmapSimpleHead`` and layer-decay optimizer constructor. A broken gradient path (a detached head, frozen
blocks, a lost loss weight) leaves the loss where it started.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

import vitpose_mm  # noqa: F401
from vitpose_mm.synthetic import generate_synthetic_coco

from conftest import ROOT

DEMO_CFG = osp.join(ROOT, 'configs', 'demo', 'td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96.py')
STEPS, FACTOR = 40, 4.0


@pytest.mark.slow  # trains a model for 40 steps
def test_a_few_dozen_steps_overfit_a_handful_of_crops(tmp_path):
    data = generate_synthetic_coco(tmp_path / 'synthetic', num_train=4, num_val=0, seed=5)
    cfg = Config.fromfile(DEMO_CFG)
    cfg.merge_from_dict({'model.backbone.embed_dim': 64, 'model.backbone.depth': 2, 'model.backbone.num_heads': 4,
                         'model.backbone.drop_path_rate': 0.0, 'model.head.in_channels': 64,
                         'model.head.num_deconv_filters': (32, 32), 'optim_wrapper.paramwise_cfg.num_layers': 2})
    init_default_scope('mmpose')
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.update(data_root=data['root'], ann_file=data['train']['ann_file'], data_prefix=dict(img='train/'),
                  pipeline=[p for p in cfg.train_pipeline if p['type'] != 'RandomBBoxTransform'])
    dataset = DATASETS.build(ds_cfg)
    batch = pseudo_collate([dataset[i] for i in range(min(6, len(dataset)))])
    assert len(batch['inputs']) >= 4

    torch.manual_seed(0)
    model = MODELS.build(cfg.model).train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    losses = []
    for _ in range(STEPS):
        data_in = model.data_preprocessor(batch, training=True)
        loss = sum(v for k, v in model(**data_in, mode='loss').items() if 'loss' in k)
        optim.update_params(loss)
        losses.append(loss.item())
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last * FACTOR < first, f'loss {first:.3g} -> {last:.3g} in {STEPS} steps ({losses})'
