"""ViTPoseLayerDecayOptimWrapperConstructor on a tiny stand-in for the ViT backbone."""
import logging
from typing import Set, Tuple

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from torch import nn

from mmpose.registry import OPTIM_WRAPPER_CONSTRUCTORS
from vitpose_mm.engine import ViTPoseLayerDecayOptimWrapperConstructor  # importing registers it
from vitpose_mm.models import ViT

LR, WD, RATE = 5e-4, 0.1, 0.75
OPTIM = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=LR, weight_decay=WD))

# Layer id of every trainable parameter of TinyPoseModel (depth 2: max layer id 3), and whether it decays.
EXPECTED = {
    'backbone.patch_embed.weight': (0, True),
    'backbone.patch_embed.bias': (0, False),
    'backbone.pos_embed': (0, False),  # 3-D, but listed by no_weight_decay()
    'backbone.blocks.0.norm.weight': (1, False),
    'backbone.blocks.0.norm.bias': (1, False),
    'backbone.blocks.0.fc.weight': (1, True),
    'backbone.blocks.0.fc.bias': (1, False),
    'backbone.blocks.1.norm.weight': (2, False),
    'backbone.blocks.1.norm.bias': (2, False),
    'backbone.blocks.1.fc.weight': (2, True),
    'backbone.blocks.1.fc.bias': (2, False),
    'backbone.last_norm.weight': (3, False),
    'backbone.last_norm.bias': (3, False),
    'head.conv.weight': (3, True),
    'head.conv.bias': (3, False),
}
SCALES = {0: 0.421875, 1: 0.5625, 2: 0.75, 3: 1.0}  # 0.75 ** (3 - id), written out


class TinyBlock(nn.Module):

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, dim)


class TinyViT(nn.Module):
    """Stand-in with the backbone contract of vitpose_mm's ViT: its get_layer_depth and a no_weight_decay."""

    def __init__(self, depth: int = 2, dim: int = 8) -> None:
        super().__init__()
        self.depth = depth
        self.patch_embed = nn.Conv2d(3, dim, 4, stride=4)
        self.pos_embed = nn.Parameter(torch.zeros(1, 5, dim))
        self.blocks = nn.ModuleList(TinyBlock(dim) for _ in range(depth))
        self.last_norm = nn.LayerNorm(dim)

    # the ViT's own rule: the constructor knows the layer numbering of no other backbone
    get_layer_depth = ViT.get_layer_depth

    def no_weight_decay(self) -> Set[str]:
        return {'pos_embed', 'cls_token'}


class TinyHead(nn.Module):

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(dim, 4, 1)
        self.frozen = nn.Parameter(torch.zeros(3), requires_grad=False)


class TinyPoseModel(nn.Module):

    def __init__(self, backbone: nn.Module = None) -> None:
        super().__init__()
        self.backbone = TinyViT() if backbone is None else backbone
        self.head = TinyHead()


class Wrapper(nn.Module):
    """What DDP looks like to the constructor: the model sits in `.module`."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module


@pytest.fixture(autouse=True)
def mmpose_scope():
    init_default_scope('mmpose')


def _build(model: nn.Module, **paramwise_cfg):
    paramwise_cfg = paramwise_cfg or dict(num_layers=2, layer_decay_rate=RATE)
    return build_optim_wrapper(
        model, dict(OPTIM, constructor='ViTPoseLayerDecayOptimWrapperConstructor', paramwise_cfg=paramwise_cfg))


def _group_of(optim_wrapper, model: nn.Module):
    """Map each parameter name to the param group that holds it."""
    by_id = {}
    for group in optim_wrapper.optimizer.param_groups:
        for param in group['params']:
            assert id(param) not in by_id, 'a parameter is in two groups'
            by_id[id(param)] = group
    return {name: by_id[id(p)] for name, p in model.named_parameters() if id(p) in by_id}


def test_registered_in_mmpose_registry():
    assert OPTIM_WRAPPER_CONSTRUCTORS.get('ViTPoseLayerDecayOptimWrapperConstructor') is (
        ViTPoseLayerDecayOptimWrapperConstructor)


def test_param_groups_lr_and_weight_decay():
    model = TinyPoseModel()
    optim_wrapper = _build(model)
    assert isinstance(optim_wrapper.optimizer, torch.optim.AdamW)
    groups = _group_of(optim_wrapper, model)
    assert set(groups) == set(EXPECTED), 'every trainable parameter once, the frozen one nowhere'
    for name, (layer_id, decay) in EXPECTED.items():
        group = groups[name]
        assert group['lr'] == pytest.approx(LR * SCALES[layer_id]), name
        assert group['lr_scale'] == pytest.approx(SCALES[layer_id]), name
        assert group['weight_decay'] == (WD if decay else 0.0), name
        assert group['group_name'] == f"layer_{layer_id}_{'decay' if decay else 'no_decay'}", name
    assert groups['head.conv.weight']['lr'] == LR


def test_number_and_order_of_groups():
    optim_wrapper = _build(TinyPoseModel())
    names = [g['group_name'] for g in optim_wrapper.optimizer.param_groups]
    assert names == ['layer_0_decay', 'layer_0_no_decay', 'layer_1_decay', 'layer_1_no_decay',
                     'layer_2_decay', 'layer_2_no_decay', 'layer_3_decay', 'layer_3_no_decay']
    sizes = {g['group_name']: len(g['params']) for g in optim_wrapper.optimizer.param_groups}
    assert sizes == {'layer_0_decay': 1, 'layer_0_no_decay': 2, 'layer_1_decay': 1, 'layer_1_no_decay': 3,
                     'layer_2_decay': 1, 'layer_2_no_decay': 3, 'layer_3_decay': 1, 'layer_3_no_decay': 3}


def test_num_layers_taken_from_backbone_when_omitted():
    model = TinyPoseModel()
    explicit = _build(model).optimizer.param_groups
    implicit = _build(model, layer_decay_rate=RATE).optimizer.param_groups
    assert [(g['group_name'], g['lr']) for g in implicit] == [(g['group_name'], g['lr']) for g in explicit]


def test_num_layers_must_match_backbone():
    with pytest.raises(ValueError, match='num_layers=12.*TinyViT has 2 layers'):
        _build(TinyPoseModel(), num_layers=12, layer_decay_rate=RATE)


@pytest.mark.parametrize('bad_key', ['decay_multi', 'custom_keys'])
def test_unknown_paramwise_keys_raise(bad_key):
    cfg = dict(num_layers=2, layer_decay_rate=RATE)
    cfg[bad_key] = dict(decay_mult=0.0) if bad_key == 'custom_keys' else 0.0
    with pytest.raises(ValueError, match=rf"unknown keys \['{bad_key}'\].*'num_layers', 'layer_decay_rate'"):
        _build(TinyPoseModel(), **cfg)


def test_official_config_typo_raises():
    # The official ViTPose configs' paramwise_cfg, verbatim: custom_keys with the unread `decay_multi`.
    official = dict(num_layers=12, layer_decay_rate=0.75,
                    custom_keys={'bias': dict(decay_multi=0.), 'pos_embed': dict(decay_mult=0.),
                                 'relative_position_bias_table': dict(decay_mult=0.),
                                 'norm': dict(decay_mult=0.)})
    with pytest.raises(ValueError, match='custom_keys'):
        _build(TinyPoseModel(), **official)


def test_layer_decay_rate_required():
    with pytest.raises(ValueError, match='layer_decay_rate'):
        _build(TinyPoseModel(), num_layers=2)


def test_no_decay_names():
    model = TinyPoseModel()
    groups = _group_of(_build(model, layer_decay_rate=RATE, no_decay_names=['head.conv.weight']), model)
    assert groups['head.conv.weight']['weight_decay'] == 0.0
    assert groups['backbone.blocks.0.fc.weight']['weight_decay'] == WD
    with pytest.raises(ValueError, match=r"\['head.nope'\]"):
        _build(model, layer_decay_rate=RATE, no_decay_names=['head.nope'])


def test_wrapped_model_is_unwrapped():
    model = TinyPoseModel()
    groups = _group_of(_build(Wrapper(model)), model)
    assert groups['backbone.blocks.0.fc.weight']['lr'] == pytest.approx(LR * SCALES[1])
    assert len(groups) == len(EXPECTED)


def test_backbone_without_get_layer_depth_raises():

    class PlainBackbone(nn.Module):

        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2)

    with pytest.raises(ValueError, match='get_layer_depth.*PlainBackbone'):
        _build(TinyPoseModel(PlainBackbone()))


def test_backbone_of_unknown_layer_numbering_raises():

    class OtherNumbering(TinyViT):

        def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
            return 0, self.depth + 2  # e.g. a count of layers, not the last id

    with pytest.raises(ValueError, match='OtherNumbering.get_layer_depth'):
        _build(TinyPoseModel(OtherNumbering()))


def test_one_log_line_per_group():
    logger = MMLogger.get_current_instance()
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        _build(TinyPoseModel())
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    lines = [m for m in messages if 'ViTPoseLayerDecayOptimWrapperConstructor: layer_' in m]
    assert len(lines) == 8
    assert ': layer_0_decay: lr_scale=0.421875 lr=0.00021093' in lines[0]
    assert lines[0].endswith(' weight_decay=0.1 tensors=1 params=384')
    assert lines[3].endswith(': layer_1_no_decay: lr_scale=0.5625 lr=0.00028125 weight_decay=0.0 tensors=3 '
                             'params=24')
    assert not any('blocks.0' in m or 'pos_embed' in m for m in messages), 'no per-parameter lines'


def test_adamw_step_uses_the_group_lr():
    # AdamW's first step moves every element by lr * sign(grad) (plus decay); biases have no decay.
    model = TinyPoseModel()
    optim_wrapper = _build(model)
    biases = {name: p for name, p in model.named_parameters() if name.endswith('bias')}
    before = {name: p.detach().clone() for name, p in biases.items()}
    for param in model.parameters():
        param.grad = torch.ones_like(param)
    optim_wrapper.step()
    for name, param in biases.items():
        layer_id = EXPECTED[name][0]
        torch.testing.assert_close(before[name] - param.detach(), torch.full_like(param, LR * SCALES[layer_id]))


def test_with_the_project_vit_and_head():
    from vitpose_mm.models import TopdownHeatmapSimpleHead, ViT
    model = nn.Module()
    model.backbone = ViT(img_size=(64, 48), embed_dim=16, depth=2, num_heads=2, qkv_bias=True)
    model.head = TopdownHeatmapSimpleHead(16, 17, num_deconv_layers=2, num_deconv_filters=(8, 8),
                                          num_deconv_kernels=(4, 4))
    groups = _group_of(_build(model), model)
    assert len(groups) == sum(p.requires_grad for p in model.parameters())
    for name, scale, wd in [('backbone.pos_embed', SCALES[0], 0.0),
                            ('backbone.patch_embed.proj.weight', SCALES[0], WD),
                            ('backbone.blocks.0.attn.qkv.bias', SCALES[1], 0.0),
                            ('backbone.blocks.1.mlp.fc2.weight', SCALES[2], WD),
                            ('backbone.last_norm.weight', 1.0, 0.0),
                            ('head.deconv_layers.0.weight', 1.0, WD),
                            ('head.deconv_layers.1.weight', 1.0, 0.0),
                            ('head.final_layer.weight', 1.0, WD)]:
        assert groups[name]['lr_scale'] == pytest.approx(scale), name
        assert groups[name]['weight_decay'] == wd, name
