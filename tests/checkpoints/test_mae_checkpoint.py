"""The checkpoint of an MAE pre-training run loads into ViTPose configs through init_cfg, like published MAE
weights: strictly, the decoder dropped and named, the grid resampled from the one the checkpoint records."""
import logging
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS as POSE_MODELS
from mmpretrain.registry import MODELS

import vitpose_mm.models.mae  # noqa: F401
from conftest import ROOT
from vitpose_mm.checkpoints import CheckpointMismatchError, grid_record, load_checkpoint
from vitpose_mm.models.layers import resize_pos_embed

DEMO = osp.join(ROOT, 'configs', 'mae', 'demo')
PRETRAIN = osp.join(DEMO, 'mae_ViTPose-micro_1xb64-30e_synthetic-crops-128x96.py')
FINETUNE = osp.join(DEMO, 'td-hm_ViTPose-micro-mae_1xb32-12e_synthetic-128x96.py')


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    """A pre-training checkpoint as ViTPoseRunner writes it: the MAE model's tensors and its grid in the meta."""
    cfg = Config.fromfile(PRETRAIN)
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    with torch.no_grad():  # pre-training would have moved these from their init
        model.backbone.last_norm.weight.uniform_(0.5, 1.5)
    path = str(tmp_path_factory.mktemp('mae') / 'epoch_30.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(vitpose_mm=grid_record(model))), path)
    return path, model.state_dict()


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _pose_model(path, **backbone):
    cfg = Config.fromfile(FINETUNE)
    init_default_scope('mmpose')
    cfg.model.backbone.update(init_cfg=dict(type='Pretrained', checkpoint=path), **backbone)
    model = POSE_MODELS.build(cfg.model)
    logger, lines = MMLogger.get_current_instance(), _Lines()
    logger.addHandler(lines)
    try:
        model.init_weights()
    finally:
        logger.removeHandler(lines)
    return model, '\n'.join(lines.lines)


def test_loads_into_the_pose_config(pretrained):
    path, sd = pretrained
    assert grid_record(MODELS.build(Config.fromfile(PRETRAIN).model)) == dict(grid=[8, 6], patch_size=[16, 16])
    # a bare backbone records its own grid; a model without a ViT records nothing
    from vitpose_mm.models.backbones import ViT
    bare = ViT(img_size=(64, 32), patch_size=16, embed_dim=32, depth=1, num_heads=2)
    assert grid_record(bare) == dict(grid=[4, 2], patch_size=[16, 16])
    assert grid_record(torch.nn.Linear(2, 2)) == {}
    model, log = _pose_model(path)
    own = model.backbone.state_dict()
    assert set(own) == {k[len('backbone.'):] for k in sd if k.startswith('backbone.')}  # every tensor, no other
    for k, v in own.items():
        assert torch.equal(v, sd['backbone.' + k]), k
    decoder = sorted(k for k in sd if k.startswith('neck.'))
    assert len(decoder) == 32 and 'neck.mask_token' in decoder
    assert f'dropped {len(decoder)} keys (neck.' in log and 'decoder' in log
    assert 'kept initial values of nothing' in log and 'resampled' not in log
    assert model.backbone.pos_embed.requires_grad  # learned in fine-tuning, from the sine-cosine init


def test_another_grid_is_resampled_from_the_recorded_one(pretrained):
    path, sd = pretrained
    model, log = _pose_model(path, img_size=(256, 192))
    expect = resize_pos_embed(sd['backbone.pos_embed'], (8, 6), (16, 12))
    assert torch.equal(model.backbone.pos_embed.detach(), expect)
    assert any('resampled' in line and '8x6' in line and '16x12' in line and 'recorded' in line for line in log.splitlines())


def test_load_from_refuses_it_and_says_init_cfg(pretrained):
    path, _ = pretrained
    model, _ = _pose_model(path)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError, match='init_cfg'):
        load_checkpoint(model, path)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize('prefix, blocks, width, depth, size', [
    ('', 'blocks', 384, 12, 'small'), ('backbone.', 'blocks', 768, 12, 'base'), ('', 'layers', 1024, 24, 'large'),
    ('backbone.', 'layers', 1280, 32, 'huge')])
def test_pretraining_weights_without_a_config_pick_the_shipped_config_of_their_size(prefix, blocks, width, depth,
                                                                                     size):
    """MAE weights converted without --config: the COCO config of the released size with that width and depth
    (timm's ``blocks.N`` or mmpretrain's ``layers.N``, with or without ``backbone.``); it exists in configs/coco/."""
    from vitpose_mm.checkpoints.convert_file import default_mae_config
    sd = {f'{prefix}pos_embed': torch.zeros(1, 5, width)}
    sd.update({f'{prefix}{blocks}.{i}.norm1.weight': torch.zeros(1) for i in range(depth)})
    name = default_mae_config(sd)
    assert name == f'td-hm_ViTPose-{size}_8xb64-210e_coco-256x192.py'
    assert osp.isfile(osp.join(ROOT, 'configs', 'coco', name))


def test_pretraining_weights_of_another_size_ask_for_a_config():
    from vitpose_mm.checkpoints.convert_file import default_mae_config
    sd = {'pos_embed': torch.zeros(1, 5, 768), **{f'blocks.{i}.norm1.weight': torch.zeros(1) for i in range(6)}}
    with pytest.raises(ValueError, match='768-d, 6-block'):
        default_mae_config(sd)
    with pytest.raises(ValueError, match='not a released size'):  # no position embedding to read the width from
        default_mae_config({f'blocks.{i}.norm1.weight': torch.zeros(1) for i in range(12)})
