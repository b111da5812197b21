"""A few MAE pre-training iterations on synthetic person crops lower the reconstruction loss (the demo config's
model, data pipeline, data preprocessor and optimizer, through mmengine's train_step)."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DATASETS, init_default_scope
from mmpretrain.registry import MODELS

import vitpose_mm.models.mae  # noqa: F401  (registers the MAE modules, as the configs' custom_imports do)
from conftest import ROOT
from vitpose_mm.datasets import generate_synthetic_coco

DEMO = osp.join(ROOT, 'configs', 'mae', 'demo', 'mae_ViTPose-micro_1xb64-30e_synthetic-crops-128x96.py')


def test_pretraining_lowers_the_reconstruction_loss(tmp_path):
    generate_synthetic_coco(tmp_path, num_train=3, num_val=0, seed=1)
    cfg = Config.fromfile(DEMO)
    init_default_scope(cfg.default_scope)
    cfg.train_dataloader.dataset.update(data_root=str(tmp_path) + '/')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    torch.manual_seed(0)
    batch = default_collate([dataset[i] for i in range(min(len(dataset), 8))])
    model = MODELS.build(cfg.model)
    model.init_weights()
    optim = build_optim_wrapper(model, dict(cfg.optim_wrapper, optimizer=dict(cfg.optim_wrapper.optimizer, lr=2e-3)))

    def loss() -> float:  # the same masks every time
        torch.manual_seed(123)
        with torch.no_grad():
            data = model.data_preprocessor(batch, True)
            return float(model.loss(**data)['loss'])

    before = loss()
    assert 0.8 < before < 1.3  # norm_pix targets have unit variance; an untrained decoder predicts about 0
    for _ in range(8):
        out = model.train_step(batch, optim)
    after = loss()
    assert after < 0.85 * before, (before, after)
    assert set(out) == {'loss'}
    assert not model.backbone.pos_embed.requires_grad  # MAE's fixed positions
