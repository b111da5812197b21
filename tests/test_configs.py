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
    assert type(model).__name__ == 'TopdownPoseEstimator'
    assert type(model.backbone).__name__ == 'ViT' and type(model.head).__name__ == 'TopdownHeatmapSimpleHead'
    bb = cfg.model.backbone
    if 'coco-256x192' in path:
        assert cfg.optim_wrapper.optimizer.lr == 5e-4 and cfg.optim_wrapper.optimizer.weight_decay == 0.1
        assert cfg.optim_wrapper.paramwise_cfg.num_layers == bb.depth
        assert cfg.train_dataloader.batch_size == 64 and cfg.train_cfg.max_epochs == 210
        assert cfg.model.test_cfg.flip_test
    if 'coco-256x192' in path:  # published sizes (S 24M, B 86M, L 307M, H 632M, plain ViT-g 1.0B; rounded, head or not)
        published = dict(small=24e6, base=86e6, large=307e6, huge=632e6, giant=1.0e9)
        size = next(k for k in published if f'ViTPose-{k}' in path)
        assert sum(p.numel() for p in model.parameters()) == pytest.approx(published[size], rel=0.1)
    if not big:  # keep the suite fast: forward the small ones
        h, w = bb.img_size
        model.eval()
        with torch.no_grad():
            out = model(torch.randn(1, 3, h, w), None, mode='tensor')
        assert out.shape == (1, 17, h // 4, w // 4)


def test_leaf_config_is_at_most_two_files_deep():
    for path in LEAVES:
        text = open(path).read()
        if '_base_' in text:
            for line in text.splitlines():
                if line.startswith('_base_'):
                    base_path = osp.normpath(osp.join(osp.dirname(path), eval(line.split('=', 1)[1])[0]))
                    assert '_base_ =' not in open(base_path).read(), f'{base_path} inherits again'
