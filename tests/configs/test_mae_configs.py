"""The MAE pre-training configs build mmpretrain's MAE around ViTPose's ViT with the paper's settings, and each
fine-tuning config starts from its pre-training config's last checkpoint."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import vitpose_mm.models.mae  # noqa: F401
from conftest import ROOT

PRETRAIN = sorted(glob.glob(osp.join(ROOT, 'configs', 'mae', '**', 'mae_*.py'), recursive=True))
# fine-tuning config -> the pre-training config it starts from
FINETUNE = {
    'td-hm_ViTPose-base-mae-coco-aic_8xb64-210e_coco-256x192.py':
    'mae_ViTPose-base_8xb512-1600e_coco-aic-crops-256x192.py',
    'demo/td-hm_ViTPose-micro-mae_1xb32-12e_synthetic-128x96.py':
    'demo/mae_ViTPose-micro_1xb64-30e_synthetic-crops-128x96.py',
}


def test_configs_found():
    assert len(PRETRAIN) == 4


@pytest.mark.parametrize('path', PRETRAIN, ids=[osp.basename(p) for p in PRETRAIN])
def test_pretraining_config(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    demo = '/demo/' in path
    with torch.device('cpu' if demo else 'meta'):
        model = MODELS.build(cfg.model)
    bb, neck, head = model.backbone, model.neck, model.head
    assert (type(model).__name__, type(bb).__name__) == ('MAE', 'ViTPoseMAE')
    assert bb.mask_ratio == 0.75 and head.norm_pix
    h, w = bb.img_size
    assert tuple(bb.patch_shape) == (h // 16, w // 16) == neck.grid == head.grid  # padding 2: 256x192 -> 16x12
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, cosine.type) == ('LinearLR', 'CosineAnnealingLR') and cosine.end == cfg.train_cfg.max_epochs
    if not demo:  # the paper (75% masking, 1,600 epochs) and MAE (batch 4096, lr 1.5e-4 x 4096 / 256, 40 warm-up)
        assert cfg.train_cfg.max_epochs == 1600 and warmup.end == 40
        assert cfg.train_dataloader.batch_size * 8 == cfg.auto_scale_lr.base_batch_size == 4096
        assert cfg.optim_wrapper.optimizer.lr == pytest.approx(2.4e-3)
        assert cfg.optim_wrapper.optimizer.betas == (0.9, 0.95) and cfg.optim_wrapper.optimizer.weight_decay == 0.05
        assert (bb.embed_dim, bb.depth, len(neck.decoder_blocks), neck.decoder_embed.out_features) == (768, 12, 8, 512)
        assert (h, w) == (256, 192)
        kinds = [(d.type, d.data_mode) for d in cfg.train_dataloader.dataset.datasets]
        name = osp.basename(path)
        assert kinds == {'coco-crops': [('CocoDataset', 'topdown')],
                         'coco-aic-crops': [('CocoDataset', 'topdown'), ('AicDataset', 'topdown')],
                         'coco-aic-images': [('CocoDataset', 'bottomup'), ('AicDataset', 'bottomup')]}[
                             name.split('1600e_')[1].replace('-256x192.py', '')]


@pytest.mark.parametrize('finetune,pretrain', FINETUNE.items())
def test_finetuning_starts_from_the_pretraining_output(finetune, pretrain):
    ft = Config.fromfile(osp.join(ROOT, 'configs', 'mae', finetune))
    pre = Config.fromfile(osp.join(ROOT, 'configs', 'mae', pretrain))
    work_dir = osp.join('work_dirs', osp.splitext(osp.basename(pretrain))[0])  # tools/train.py's default
    assert ft.model.backbone.init_cfg == dict(
        type='ViTPosePretrained', checkpoint=f'{work_dir}/epoch_{pre.train_cfg.max_epochs}.pth')
    arch = ('img_size', 'patch_size', 'embed_dim', 'depth', 'num_heads', 'mlp_ratio', 'qkv_bias')
    assert {k: tuple(v) if isinstance(v, list) else v for k, v in ft.model.backbone.items() if k in arch} == \
        {k: tuple(v) if isinstance(v, list) else v for k, v in pre.model.backbone.items() if k in arch}
