"""The bottom-up demo model (made small) learns: its loss falls on a few synthetic images."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

import vitpose_mm  # noqa: F401  (registration)
from conftest import ROOT
from vitpose_mm.synthetic import generate_synthetic_coco

DEMO = osp.join(ROOT, 'configs', 'bottomup', 'demo', 'bottomup_ViTPose-tiny_1xb16_synthetic-128x160.py')


@pytest.mark.slow
def test_bottomup_demo_model_loss_falls(tmp_path):
    """The demo config's model (associative embedding) at a quarter of its width, 40 AdamW steps on 4 images of
    1-4 people drawn at the demo's input size (mmpose's dataset, the demo's targets, no random affine): the loss
    falls to under a third of the first step's."""
    data = generate_synthetic_coco(str(tmp_path), num_train=4, num_val=0, seed=5, width=160, height=128)
    cfg = Config.fromfile(DEMO)
    cfg.merge_from_dict({'model.backbone.embed_dim': 64, 'model.backbone.depth': 2, 'model.backbone.num_heads': 4,
                         'model.backbone.drop_path_rate': 0., 'model.neck.in_channels': 64,
                         'optim_wrapper.paramwise_cfg.num_layers': 2})
    pipeline = [dict(t, shift_prob=0., scale_prob=0., rotate_prob=0.) if t['type'] == 'BottomupRandomAffine' else t
                for t in cfg.train_dataloader.dataset.pipeline]  # no random shift, scale or rotation
    init_default_scope('mmpose')
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.update(data_root=data['root'], ann_file=data['train']['ann_file'], data_prefix=dict(img='train/'),
                  pipeline=pipeline)
    dataset = DATASETS.build(ds_cfg)
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    losses = []
    for _ in range(40):
        with optim.optim_context(model):
            data_in = model.data_preprocessor(batch, training=True)
            parts = model(**data_in, mode='loss')
            loss = sum(v for k, v in parts.items() if 'loss' in k)
        optim.update_params(loss)
        losses.append(loss.item())
    assert set(parts) == {'loss_kpt', 'loss_pull', 'loss_push'}
    assert torch.isfinite(torch.tensor(losses)).all()
    assert sum(losses[-5:]) / 5 < losses[0] / 3, losses
