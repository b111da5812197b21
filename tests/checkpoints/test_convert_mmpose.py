"""mmpose 1.x ViTPose checkpoints: converted, they reproduce mmpose 1.x's own outputs.

The reference models are built from mmpose's own configs (installed with mmpose 1.3.2), with a small arch dict
instead of ViT-B (the key layout does not depend on width or depth), random weights, the real 256x192 input.
"""
import os.path as osp

import mmpose
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from convert_utils import TINY, assert_same_decoding, build_model, heatmaps, predict_heatmaps, run_tool, tiny_options
from random_weights import randomize_
from vitpose_mm.checkpoints import convert_state_dict, fit_to_model, load_file

MMPOSE_CONFIGS = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', 'body_2d_keypoint', 'topdown_heatmap',
                          'coco')


def mmpose_model(simple: bool) -> torch.nn.Module:
    name = f'td-hm_ViTPose-base{"-simple" if simple else ""}_8xb64-210e_coco-256x192.py'
    cfg = Config.fromfile(osp.join(MMPOSE_CONFIGS, name))
    assert cfg.model.backbone.type == 'mmpretrain.VisionTransformer' and not cfg.model.backbone.with_cls_token
    assert (cfg.model.get('neck') is not None) == simple  # simple: FeatureMapProcessor(relu, x4), no parameters
    cfg.model.backbone.arch = dict(embed_dims=TINY['embed_dim'], num_layers=TINY['depth'],
                                   num_heads=TINY['num_heads'], feedforward_channels=4 * TINY['embed_dim'])
    cfg.model.backbone.init_cfg = None
    cfg.model.head.in_channels = TINY['embed_dim']
    init_default_scope('mmpose')
    return randomize_(MODELS.build(cfg.model), seed=7 if simple else 3).eval()


@pytest.mark.parametrize('simple', [False, True], ids=['classic', 'simple'])
def test_mmpose_1x_outputs_are_reproduced(simple):
    ref = mmpose_model(simple)
    sd = ref.state_dict()
    assert 'backbone.layers.1.ffn.layers.0.0.weight' in sd and 'backbone.ln1.weight' in sd
    assert sd['backbone.pos_embed'].shape == (1, 16 * 12, TINY['embed_dim'])  # no class row
    conv = convert_state_dict(sd, source='mmpose')
    assert conv.layout == 'mmpose' and conv.dropped == {}
    assert conv.arch.decoder == ('simple' if simple else 'classic')
    # the class row ViTPose adds to every patch is zero: mmpose 1.x adds nothing there
    assert torch.equal(conv.state_dict['backbone.pos_embed'][0, 0], torch.zeros(TINY['embed_dim']))
    model = build_model(simple)
    fit_to_model(conv, model)
    model.load_state_dict(conv.state_dict, strict=True)

    x = torch.randn(2, 3, 256, 192)
    want, got = heatmaps(ref, x), heatmaps(model, x)
    assert want.shape == (2, 17, 64, 48) and want.abs().max() > 0.3
    diff = (want - got).abs().max().item()
    assert diff <= 1e-5, diff
    # the flip-test heatmaps that predict() decodes, and their decoding (UDP codec of both configs)
    flip_want, flip_got = predict_heatmaps(ref, x), predict_heatmaps(model, x)
    assert np.abs(flip_want - flip_got).max() <= 1e-5
    assert_same_decoding(flip_want, flip_got)


def test_mmpose_checkpoint_file_through_the_tool(tmp_path, capsys):
    ref = mmpose_model(simple=True)
    torch.save({'meta': {'mmpose_version': '1.3.2'}, 'state_dict': ref.state_dict()}, tmp_path / 'mmpose.pth')
    config = 'td-hm_ViTPose-base-simple_8xb64-210e_coco-256x192'
    opts = [f'{k}={v}' for k, v in tiny_options(simple=True).items()]
    code, out, err = run_tool([tmp_path / 'mmpose.pth', tmp_path / 'mm.pth', '--config', config,
                               '--cfg-options', *opts], capsys)
    assert code == 0, err
    assert 'layout: mmpose (detected)' in out and 'add_zero_cls_row' in out and 'dropped: nothing' in out
    ckpt = load_file(tmp_path / 'mm.pth')
    assert set(ckpt) == {'meta', 'state_dict'}
    assert ckpt['meta']['vitpose_mm']['layout'] == 'mmpose'
    model = build_model(simple=True)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    x = torch.randn(1, 3, 256, 192)
    assert (heatmaps(ref, x) - heatmaps(model, x)).abs().max() <= 1e-5
