"""Weights carried to the fine-tuned model: the final layer's channels copied by keypoint name."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import vitpose_mm  # noqa: F401
from random_weights import randomize_
from vitpose_mm.finetune import copy_channels_by_name
from vitpose_mm.finetune.weights import carry_weights

COCO = ['nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder', 'left_elbow',
        'right_elbow', 'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle',
        'right_ankle']


def test_channel_copy_by_name_subset_other_order():
    g = torch.Generator().manual_seed(0)
    src_w, src_b = torch.randn(17, 8, 1, 1, generator=g), torch.randn(17, generator=g)
    dst_names = ['head', 'RightShoulder', 'l_wrist', 'nose', 'tail']
    dst_w, dst_b = torch.randn(5, 8, 1, 1, generator=g), torch.randn(5, generator=g)
    w, b, copied = copy_channels_by_name(src_w, src_b, COCO, dst_w, dst_b, dst_names)
    assert copied == [('RightShoulder', 'right_shoulder'), ('l_wrist', 'left_wrist'), ('nose', 'nose')]
    for j, i in ((1, 6), (2, 9), (3, 0)):  # pinned against the source head's channels
        assert torch.equal(w[j], src_w[i]) and b[j] == src_b[i]
    for j in (0, 4):  # unmatched channels keep the fresh init
        assert torch.equal(w[j], dst_w[j]) and b[j] == dst_b[j]
    assert not torch.equal(dst_w[1], src_w[6])  # the input is not modified


def test_channel_copy_superset():
    src_w = torch.arange(17 * 2, dtype=torch.float).reshape(17, 2, 1, 1)
    dst_names = COCO + ['neck', 'head_top']
    w, _, copied = copy_channels_by_name(src_w, None, COCO, torch.zeros(19, 2, 1, 1), None, dst_names)
    assert len(copied) == 17 and torch.equal(w[:17], src_w) and not w[17:].any()


def test_channel_copy_refuses_other_shapes():
    with pytest.raises(ValueError, match=r'\(17, 8, 1, 1\)'):
        copy_channels_by_name(torch.zeros(17, 8, 1, 1), None, COCO, torch.zeros(3, 4, 1, 1), None, ['a', 'b', 'c'])


def _model(k: int, seed: int):
    init_default_scope('mmpose')
    cfg = dict(type='TopdownPoseEstimator',
               backbone=dict(type='ViT', img_size=(64, 48), patch_size=16, embed_dim=32, depth=2, num_heads=2),
               head=dict(type='TopdownHeatmapSimpleHead', in_channels=32, out_channels=k, num_deconv_layers=1,
                         num_deconv_filters=(16, ), num_deconv_kernels=(4, ), final_layer=dict(kernel_size=1)))
    return randomize_(MODELS.build(cfg), seed=seed)


def test_carry_weights_backbone_deconv_and_final_layer_by_name():
    src = _model(17, seed=1)
    target = _model(4, seed=2)
    names = ['left_knee', 'chin', 'RightAnkle', 'nose']
    sd, notes = carry_weights(src.state_dict(), COCO, target, names)
    ssd, tsd = src.state_dict(), target.state_dict()
    for key in ('backbone.blocks.1.mlp.fc2.weight', 'backbone.pos_embed', 'head.deconv_layers.0.weight',
                'head.deconv_layers.1.running_var'):
        assert torch.equal(sd[key], ssd[key])
    w = sd['head.final_layer.weight']
    assert torch.equal(w[0], ssd['head.final_layer.weight'][13]) and torch.equal(w[2], ssd['head.final_layer.weight'][16])
    assert torch.equal(w[1], tsd['head.final_layer.weight'][1])
    assert sd['head.final_layer.bias'][3] == ssd['head.final_layer.bias'][0]
    assert any("re-initialised: ['chin']" in n for n in notes)
    target.load_state_dict(sd, strict=True)


def test_carry_weights_without_source_names_reinitialises():
    src, target = _model(17, 1), _model(4, 2)
    sd, notes = carry_weights(src.state_dict(), None, target, ['a', 'b', 'c', 'd'])
    assert torch.equal(sd['head.final_layer.weight'], target.state_dict()['head.final_layer.weight'])
    assert any('re-initialised' in n for n in notes)
