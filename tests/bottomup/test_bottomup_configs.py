"""Every bottom-up config builds a BottomupPoseEstimator of ViT + deconv neck + an mmpose bottom-up head, with the
recipe it states; window attention and gradient checkpointing work at 512x512."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import vitpose_mm  # noqa: F401  (registration)
from conftest import ROOT
from vitpose_mm.models import ViT

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'bottomup', '**', '*.py'), recursive=True))
COCO = [c for c in CONFIGS if '512x512' in c]
DEMO = [c for c in CONFIGS if '/demo/' in c]
HEADS = dict(dekr='DEKRHead', cid='CIDHead', bottomup='TrainableAssociativeEmbeddingHead')


def test_configs_found():
    sizes = {s for s in ('base', 'large', 'huge') for c in COCO if f'ViTPose-{s}' in c}
    assert sizes == {'base', 'large', 'huge'}
    assert {('coco' if 'coco' in c else 'crowdpose') for c in COCO} == {'coco', 'crowdpose'} and len(COCO) == 6
    assert len(DEMO) == 4


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(c) for c in CONFIGS])
def test_bottomup_config_builds(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    big = '512x512' in path and 'base' not in path
    with torch.device('meta' if big else 'cpu'):
        model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'BottomupPoseEstimator' and cfg.data_mode == 'bottomup'
    assert type(model.backbone).__name__ == 'ViT' and type(model.neck).__name__ == 'DeconvUpsampleNeck'
    assert type(model.head).__name__ == HEADS[osp.basename(path).split('_')[0]]
    bb = cfg.model.backbone
    assert model.neck.in_channels == bb.embed_dim and model.head.in_channels == model.neck.out_channels
    assert model.head.num_keypoints == (14 if 'crowdpose' in path else 17)
    # the backbone's grid, the codec and the 1/4 heatmaps agree; inputs are padded to whole patches
    encoder = next(t for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'GenerateTarget')['encoder']
    w, h = encoder['input_size']
    assert tuple(bb.img_size) == (h, w) and tuple(encoder['heatmap_size']) == (w // 4, h // 4)
    assert model.head.decoder.input_size == (w, h) and type(model.head.decoder).__name__ in encoder['type']
    assert cfg.model.data_preprocessor.pad_size_divisor % 16 == 0
    resize = next(t for t in cfg.val_pipeline if t['type'] == 'BottomupResize')
    assert resize['size_factor'] % 16 == 0 and tuple(resize['input_size']) == (w, h)
    assert cfg.optim_wrapper.constructor == 'ViTPoseLayerDecayOptimWrapperConstructor'
    assert cfg.optim_wrapper.paramwise_cfg.num_layers == bb.depth
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    if '512x512' in path:
        assert model.backbone.patch_shape == (32, 32)
        assert cfg.optim_wrapper.optimizer.lr == 5e-4 and cfg.train_dataloader.batch_size == 10
        assert cfg.train_cfg.max_epochs == (300 if 'crowdpose' in path else 140)
        assert cfg.model.test_cfg.flip_test and 'rescore_cfg' not in cfg.model.head
        decay = dict(base=0.75, large=0.8, huge=0.85)
        assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == decay[next(s for s in decay if s in path)]
        if 'crowdpose' in path:
            assert cfg.val_evaluator.iou_type == 'keypoints_crowd'
            assert cfg.train_dataloader.dataset.type == 'CrowdPoseDataset'
    if 'ViTPose-base' in path:  # ViT-B 86M + neck and head
        assert sum(p.numel() for p in model.backbone.parameters()) == pytest.approx(86e6, rel=0.02)
    if '/demo/' in path:  # the top-down demo's ViT, forwarded at the demo size
        assert (bb.embed_dim, bb.depth, bb.num_heads) == (192, 6, 6) and not cfg.model.test_cfg.flip_test
        model.eval()
        with torch.no_grad():
            out = model(torch.randn(1, 3, h, w), None, mode='tensor')
        out = out if isinstance(out, tuple) else (out, )
        assert out[0].shape[-2:] == (h // 4, w // 4)
    if osp.basename(path).startswith('bottomup_'):  # associative embedding decodes at the heatmaps' own size
        assert not cfg.model.test_cfg.restore_heatmap_size and model.head.decoder.heatmap_size == (w // 4, h // 4)
    if 'from-topdown-demo' in path:  # ViT and neck from `make demo`'s checkpoint, the head from scratch
        assert cfg.model.backbone.init_cfg == dict(type='ViTPosePretrained', checkpoint='work_dirs/demo/epoch_12.pth')
        assert cfg.model.neck.init_cfg.prefix == 'head.' and 'init_cfg' not in cfg.model.head


def test_window_attention_and_checkpointing_at_512():
    """A small ViT at 512x512 (32x32 grid) with 8x8 windows and two global blocks: checkpointing gives the same
    gradients as without it."""
    dims = dict(img_size=(512, 512), embed_dim=32, depth=4, num_heads=2, window_size=8, global_blocks=(1, 3))
    grads = []
    x = torch.randn(1, 3, 512, 512)
    for use_checkpoint in (False, True):
        torch.manual_seed(0)
        vit = ViT(use_checkpoint=use_checkpoint, **dims).train()
        out = vit(x)[0]
        assert out.shape == (1, 32, 32, 32)
        out.square().mean().backward()
        grads.append(vit.blocks[0].attn.qkv.weight.grad.clone())
    assert [b is None for b in vit.block_attention] == [False, True, False, True]
    torch.testing.assert_close(grads[0], grads[1])
