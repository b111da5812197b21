"""Every shipped config parses and builds its model; the leaf configs keep the official recipe."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from conftest import ROOT

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True))
LEAVES = [c for c in CONFIGS if '_base_' not in c]
# Distillation configs need teacher/token checkpoints to build; tests/test_distill.py covers them.
PLAIN = [c for c in LEAVES if 'KnowledgeTokenDistiller' not in open(c).read()]


def test_configs_found():
    assert len(LEAVES) >= 9


@pytest.mark.parametrize('path', PLAIN, ids=[osp.basename(c) for c in PLAIN])
def test_config_builds(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    big = any(size in path for size in ('large', 'huge', 'giant'))
    with torch.device('meta' if big else 'cpu'):  # L, H and G: shapes only, no 300M+ random inits
        model = MODELS.build(cfg.model)
    multi = type(model).__name__ == 'MultiDatasetTopdownPoseEstimator'
    assert type(model).__name__ == ('MultiDatasetTopdownPoseEstimator' if 'heads' in cfg.model else
                                    'TopdownPoseEstimator')
    heads = dict(model.heads) if multi else dict(head=model.head)
    assert type(model.backbone).__name__ == 'ViT'
    assert all(type(h).__name__ == 'TopdownHeatmapSimpleHead' for h in heads.values())
    if not any(f'/{d}/' in path for d in ('configs/demo', 'distill/demo')):  # older ones lack it
        assert cfg.data_mode == 'topdown'  # mmpose's inferencer reads it
    bb = cfg.model.backbone
    if '256x192' in path:
        assert cfg.optim_wrapper.optimizer.weight_decay == 0.1 and cfg.train_cfg.max_epochs == 210
        assert cfg.optim_wrapper.paramwise_cfg.num_layers == bb.depth
        assert cfg.model.test_cfg.flip_test
    if 'coco-256x192' in path:
        assert cfg.optim_wrapper.optimizer.lr == 5e-4 and cfg.train_dataloader.batch_size == 64
    if 'coco-256x192' in path:  # published sizes (S 24M, B 86M, L 307M, H 632M, plain ViT-g 1.0B; rounded, head or not)
        published = dict(small=24e6, base=86e6, large=307e6, huge=632e6, giant=1.0e9)
        size = next(k for k in published if f'ViTPose-{k}' in path)
        assert sum(p.numel() for p in model.parameters()) == pytest.approx(published[size], rel=0.1)
    if '6datasets' in path:  # the official ViTPose+ recipe and the released experts (FACTS.md)
        size = next(k for k in ('small', 'base', 'large', 'huge') if f'plus-{k}' in path)
        assert bb.num_expert == 6 and bb.part_features == dict(small=96, base=192, large=256, huge=320)[size]
        assert cfg.optim_wrapper.optimizer.lr == 1e-3 and cfg.train_dataloader.batch_size == 128
        assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == dict(small=0.8, base=0.75, large=0.8,
                                                                        huge=0.8)[size]
        assert model.experts == dict(coco=0, aic=1, mpii=2, ap10k=3, apt36k=4, coco_wholebody=5)
    if multi:  # one head per dataset, with that dataset's keypoints (vitpose_mm.datasets.facts)
        from vitpose_mm.datasets import dataset_facts
        for name, head in heads.items():
            assert head.out_channels == dataset_facts(name).num_keypoints, name
    if not big:  # keep the suite fast: forward the small ones, one head each
        h, w = bb.img_size
        model.eval()
        name, head = next(iter(heads.items()))
        with torch.no_grad():
            out = head(model.extract_feat(torch.randn(1, 3, h, w), torch.zeros(1, dtype=torch.long))) if multi \
                else model(torch.randn(1, 3, h, w), None, mode='tensor')
        assert out.shape == (1, head.out_channels, h // 4, w // 4)


def test_leaf_config_is_at_most_two_files_deep():
    for path in LEAVES:
        text = open(path).read()
        if '_base_' in text:
            for line in text.splitlines():
                if line.startswith('_base_'):
                    base_path = osp.normpath(osp.join(osp.dirname(path), eval(line.split('=', 1)[1])[0]))
                    assert '_base_ =' not in open(base_path).read(), f'{base_path} inherits again'
