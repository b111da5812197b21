"""ViTPose-G as a plain ViT: the paper's 1B scale, built on the meta device (no memory, no init time)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from conftest import ROOT

G_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'vitpose_g', '*.py')))


def _vit_params(C: int, depth: int, hidden: int, patch: int, rows: int) -> int:
    block = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + 2 * C + (C * hidden + hidden) + (hidden * C + C)
    return depth * block + (C * 3 * patch * patch + C) + rows * C + 2 * C


@pytest.mark.parametrize('path', G_CONFIGS, ids=[osp.basename(p) for p in G_CONFIGS])
def test_vitpose_g_has_the_papers_shape_and_about_1b_parameters(path):
    cfg = Config.fromfile(path)
    init_default_scope('mmpose')
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    bb = model.backbone
    assert (bb.embed_dim, bb.depth, len(bb.blocks)) == (1408, 40, 40)
    assert bb.blocks[0].attn.num_heads == 16 and bb.blocks[0].mlp.fc1.out_features == 6144
    assert bb.use_checkpoint and cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.85
    assert cfg.optim_wrapper.paramwise_cfg.num_layers == 40 and cfg.model.backbone.drop_path_rate == 0.55
    rows = 1 + bb.patch_shape[0] * bb.patch_shape[1]
    n = sum(p.numel() for p in bb.parameters())
    assert n == _vit_params(1408, 40, 6144, 16, rows)
    assert 0.98e9 < n < 1.03e9
