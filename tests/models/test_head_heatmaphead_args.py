"""TopdownHeatmapSimpleHead takes mmpose 1.x HeatmapHead's arguments with HeatmapHead's meaning.

The cases of mmpose 1.3.2's own HeatmapHead unit tests (tests/test_models/test_heads/test_heatmap_heads/
test_heatmap_head.py), rewritten for this head; each built module is also compared with HeatmapHead built from the
same arguments (same layers, same output for the same weights). Then mixing 0.x and 1.x names, and unknown arguments.
"""
import os.path as osp

import mmpose
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData, PixelData
from torch import nn

from mmpose.models.heads import HeatmapHead
from mmpose.models.utils import check_and_update_config
from mmpose.testing import get_packed_inputs
from vitpose_mm.models.heads import TopdownHeatmapSimpleHead

MSRA = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2.)


def _feats(batch: int = 2, channels: int = 32, seed: int = 0):
    return [torch.rand((batch, channels, 8, 6), generator=torch.Generator().manual_seed(seed))]


def _same_as_heatmap_head(**kwargs) -> TopdownHeatmapSimpleHead:
    """Build both heads from ``kwargs``; they must have the same layers and give the same output."""
    ours, theirs = TopdownHeatmapSimpleHead(**kwargs), HeatmapHead(**kwargs)
    assert repr(ours.deconv_layers) == repr(theirs.deconv_layers)
    assert repr(ours.conv_layers) == repr(theirs.conv_layers)
    assert repr(ours.final_layer) == repr(theirs.final_layer)
    gen = torch.Generator().manual_seed(1)
    state = {k: torch.randn(v.shape, generator=gen).abs() + 0.1 if v.is_floating_point() else v
             for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state, strict=True)
    theirs.load_state_dict(state, strict=True)
    feats = _feats(channels=kwargs['in_channels'])
    with torch.no_grad():
        out = ours.eval()(feats)
        assert torch.equal(out, theirs.eval()(feats))
    return ours


# ---- mmpose's test_init -------------------------------------------------------------------------------------
def test_without_deconv_layers():
    head = _same_as_heatmap_head(in_channels=32, out_channels=17, deconv_out_channels=None)
    assert isinstance(head.deconv_layers, nn.Identity)
    assert head.final_layer.weight.shape == (17, 32, 1, 1)


def test_deconv_without_conv_layers():
    head = _same_as_heatmap_head(in_channels=32, out_channels=17, deconv_out_channels=(32, 32),
                                 deconv_kernel_sizes=(4, 4))
    assert isinstance(head.deconv_layers, nn.Sequential) and len(head.deconv_layers) == 6
    assert isinstance(head.conv_layers, nn.Identity)


def test_deconv_and_conv_layers():
    head = _same_as_heatmap_head(in_channels=32, out_channels=17, deconv_out_channels=(32, 32),
                                 deconv_kernel_sizes=(4, 4), conv_out_channels=(32, ), conv_kernel_sizes=(1, ))
    assert isinstance(head.deconv_layers, nn.Sequential) and isinstance(head.conv_layers, nn.Sequential)
    assert head.conv_layers[0].weight.shape == (32, 32, 1, 1)


def test_final_layer_none_means_no_final_layer():
    head = _same_as_heatmap_head(in_channels=32, out_channels=17, final_layer=None)
    assert isinstance(head.final_layer, nn.Identity)
    assert 'final_layer.weight' not in head.state_dict()
    with torch.no_grad():  # the heatmaps are the last deconv stage's 256 channels
        assert head.eval()(_feats()).shape == (2, 256, 64, 48)


def test_has_final_layer_false_as_mmpose_rewrites_it():
    direct = TopdownHeatmapSimpleHead(in_channels=32, out_channels=17, has_final_layer=False)
    assert isinstance(direct.final_layer, nn.Identity)
    # inside a pose estimator mmpose rewrites the key first: the same module either way
    _, rewritten = check_and_update_config(None, dict(in_channels=32, out_channels=17, has_final_layer=False))
    assert repr(TopdownHeatmapSimpleHead(**rewritten)) == repr(direct)
    kept = TopdownHeatmapSimpleHead(in_channels=32, out_channels=17, has_final_layer=True)
    assert kept.final_layer.weight.shape == (17, 256, 1, 1)


def test_with_decoder():
    head = TopdownHeatmapSimpleHead(in_channels=32, out_channels=17, decoder=MSRA)
    assert head.decoder is not None and type(head.decoder).__name__ == 'MSRAHeatmap'


# ---- mmpose's test_predict, test_tta, test_loss -------------------------------------------------------------
def test_predict_with_conv_layers_and_heatmaps():
    head = TopdownHeatmapSimpleHead(in_channels=32, out_channels=17, deconv_out_channels=(256, 256),
                                    deconv_kernel_sizes=(4, 4), conv_out_channels=(256, ), conv_kernel_sizes=(1, ),
                                    decoder=MSRA)
    samples = get_packed_inputs(batch_size=2)['data_samples']
    preds = head.predict(_feats(), samples)
    assert len(preds) == 2 and isinstance(preds[0], InstanceData)
    assert preds[0].keypoints.shape == samples[0].gt_instances.keypoints.shape

    head = TopdownHeatmapSimpleHead(in_channels=32, out_channels=17, decoder=MSRA)
    _, heatmaps = head.predict(_feats(), samples, test_cfg=dict(output_heatmaps=True))
    assert len(heatmaps) == 2 and isinstance(heatmaps[0], PixelData)
    assert heatmaps[0].heatmaps.shape == (17, 64, 48)


@pytest.mark.parametrize('codec, out_channels, flip_mode, shift', [
    (MSRA, 17, 'heatmap', True),
    (dict(type='UDPHeatmap', input_size=(192, 256), heatmap_size=(48, 64), heatmap_type='combined'), 17 * 3,
     'udp_combined', False),
], ids=['heatmap', 'udp_combined'])
def test_flip_test(codec, out_channels, flip_mode, shift):
    head = TopdownHeatmapSimpleHead(in_channels=32, out_channels=out_channels, decoder=codec)
    samples = get_packed_inputs(batch_size=2)['data_samples']
    feats = _feats()
    preds = head.predict([feats, feats], samples,
                         test_cfg=dict(flip_test=True, flip_mode=flip_mode, shift_heatmap=shift))
    assert len(preds) == 2 and isinstance(preds[0], InstanceData)
    assert preds[0].keypoints.shape == samples[0].gt_instances.keypoints.shape


def test_loss():
    head = TopdownHeatmapSimpleHead(in_channels=32, out_channels=17)
    losses = head.loss(_feats(), get_packed_inputs(batch_size=2)['data_samples'])
    assert losses['loss_kpt'].shape == () and losses['loss_kpt'].item() > 0
    assert isinstance(losses['acc_pose'], torch.Tensor)


# ---- mmpose's test_errors and test_state_dict_compatible ----------------------------------------------------
@pytest.mark.parametrize('kwargs, match', [
    (dict(deconv_out_channels=(256, ), deconv_kernel_sizes=(4, 4)), 'Got mismatched lengths'),
    (dict(conv_out_channels=(256, )), 'Got mismatched lengths'),
    (dict(in_channels=16, deconv_out_channels=(256, ), deconv_kernel_sizes=(1, )), 'Unsupported kernel size'),
])
def test_heatmap_head_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TopdownHeatmapSimpleHead(**dict(dict(in_channels=32, out_channels=17), **kwargs))


def test_state_dicts_of_hrnet_and_resnet_heads_load():
    hrnet = TopdownHeatmapSimpleHead(in_channels=32, out_channels=17, deconv_out_channels=None)
    hrnet.load_state_dict({'final_layer.weight': torch.ones(17, 32, 1, 1), 'final_layer.bias': torch.ones(17)})
    assert hrnet.final_layer.weight.sum() == 17 * 32

    resnet = TopdownHeatmapSimpleHead(in_channels=2048, out_channels=17)
    state = {f'deconv_layers.{i}.weight': torch.zeros(2048 if i == 0 else 256, 256, 4, 4) for i in (0, 3, 6)}
    for i in (1, 4, 7):
        state.update({f'deconv_layers.{i}.{k}': torch.zeros(256) for k in ('weight', 'bias', 'running_mean')})
        state[f'deconv_layers.{i}.running_var'] = torch.ones(256)
        state[f'deconv_layers.{i}.num_batches_tracked'] = torch.zeros([], dtype=torch.long)
    state.update({'final_layer.weight': torch.zeros(17, 256, 1, 1), 'final_layer.bias': torch.full((17, ), 2.)})
    resnet.load_state_dict(state)
    assert torch.equal(resnet.final_layer.bias, torch.full((17, ), 2.))


# ---- one language per part of the head; unknown arguments ----------------------------------------------------
@pytest.mark.parametrize('kwargs, names', [
    (dict(num_deconv_layers=2, deconv_out_channels=(256, 256)), ['deconv_out_channels', 'num_deconv_layers']),
    (dict(num_deconv_kernels=(4, 4, 4), deconv_kernel_sizes=(4, 4, 4)), ['deconv_kernel_sizes', 'num_deconv_kernels']),
    (dict(extra=dict(num_conv_layers=1), conv_out_channels=(256, )), ['conv_out_channels', "extra['num_conv_layers']"]),
    (dict(extra=dict(final_conv_kernel=3), final_layer=dict(kernel_size=3, padding=1)),
     ['final_layer', "extra['final_conv_kernel']"]),
    (dict(extra=dict(final_conv_kernel=3), final_layer=None), ['final_layer', "extra['final_conv_kernel']"]),
    (dict(has_final_layer=False, final_layer=dict(kernel_size=1)), ['has_final_layer', 'final_layer']),
    (dict(has_final_layer=True, final_layer=None), ['has_final_layer', 'final_layer']),
    (dict(loss=dict(type='KeypointMSELoss'), loss_keypoint=dict(type='KeypointMSELoss')), ['loss', 'loss_keypoint']),
])
def test_a_0x_and_a_1x_name_of_the_same_thing_is_an_error(kwargs, names):
    with pytest.raises(ValueError) as info:
        TopdownHeatmapSimpleHead(in_channels=32, out_channels=17, **kwargs)
    for name in names:
        assert name in str(info.value)


def test_unknown_argument_names_it_and_the_accepted_ones():
    with pytest.raises(ValueError, match=r"\['deconv_channels'\].*'deconv_out_channels'.*'num_deconv_filters'"):
        TopdownHeatmapSimpleHead(in_channels=32, out_channels=17, deconv_channels=(256, ))


def test_official_final_conv_kernel_0_survives_mmpose_rewrite():
    # The official head's extra=dict(final_conv_kernel=0) (no final conv), as mmpose's estimator rewrites it.
    _, rewritten = check_and_update_config(None, dict(in_channels=32, out_channels=17, num_deconv_layers=1,
                                                      num_deconv_filters=(17, ), num_deconv_kernels=(4, ),
                                                      extra=dict(final_conv_kernel=0)))
    assert rewritten['final_layer'] == dict(kernel_size=0)
    head = TopdownHeatmapSimpleHead(**rewritten)
    assert isinstance(head.final_layer, nn.Identity)
    assert repr(head) == repr(TopdownHeatmapSimpleHead(in_channels=32, out_channels=17, num_deconv_layers=1,
                                                        num_deconv_filters=(17, ), num_deconv_kernels=(4, ),
                                                        extra=dict(final_conv_kernel=0)))


def test_head_of_mmpose_vitpose_config_with_only_the_type_changed():
    """The issue's case: mmpose 1.3.2's own ViTPose-B config, head type changed, nothing else."""
    path = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', 'body_2d_keypoint', 'topdown_heatmap', 'coco',
                    'td-hm_ViTPose-base_8xb64-210e_coco-256x192.py')
    if not osp.isfile(path):
        pytest.skip(f'mmpose configs not installed: {path}')
    head_cfg = Config.fromfile(path).model.head.to_dict()
    assert head_cfg.pop('type') == 'HeatmapHead' and 'deconv_out_channels' in head_cfg
    head_cfg['in_channels'] = 32  # a narrow input keeps the comparison fast; every other argument as shipped
    head = _same_as_heatmap_head(**head_cfg)
    assert type(head.decoder).__name__ == 'UDPHeatmap'
