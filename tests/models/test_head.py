"""TopdownHeatmapSimpleHead: official key layout, both decoders, loss, flip test, argument handling."""
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from torch import nn

from mmpose.datasets.transforms import GenerateTarget, PackPoseInputs
from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS
from vitpose_mm.models.heads import TopdownHeatmapSimpleHead

COCO_FLIP_INDICES = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
UDP_CODEC = dict(type='UDPHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
BN_KEYS = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')

# keypoint_head of the official ViTPose-B configs, with only mmpose 1.x's renames applied
# (loss_keypoint -> loss, JointsMSELoss -> KeypointMSELoss).
CLASSIC = dict(in_channels=768, out_channels=17, num_deconv_layers=2, num_deconv_filters=(256, 256),
               num_deconv_kernels=(4, 4), extra=dict(final_conv_kernel=1))
SIMPLE = dict(in_channels=768, out_channels=17, num_deconv_layers=0, num_deconv_filters=[],
              num_deconv_kernels=[], upsample=4, extra=dict(final_conv_kernel=3))
MSE = dict(type='KeypointMSELoss', use_target_weight=True)


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter and BN buffer non-trivial values (init values would hide mistakes)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                values = torch.randn(tensor.shape, generator=gen) * 0.05
                if name.endswith('running_var'):
                    values = values.abs() + 0.5
                tensor.copy_(values)
    return module.eval()


def _feats(batch: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.randn(batch, 768, 16, 12, generator=torch.Generator().manual_seed(seed))


def _official_state_dict(head: nn.Module) -> 'OrderedDict[str, torch.Tensor]':
    """The head's tensors under official key names, marked as saved by a version-1 module (mmpose 0.x)."""
    state = OrderedDict((k, torch.randn_like(v) if v.is_floating_point() else v.clone())
                        for k, v in head.state_dict().items())
    state._metadata = OrderedDict({'': dict(version=1)})
    return state


def test_classic_state_dict_keys_and_layers():
    head = TopdownHeatmapSimpleHead(**CLASSIC)
    expected = {'deconv_layers.0.weight', 'deconv_layers.3.weight', 'final_layer.weight', 'final_layer.bias'}
    expected |= {f'deconv_layers.{i}.{k}' for i in (1, 4) for k in BN_KEYS}
    assert set(head.state_dict()) == expected
    assert head.state_dict()['deconv_layers.0.weight'].shape == (768, 256, 4, 4)
    assert head.state_dict()['deconv_layers.3.weight'].shape == (256, 256, 4, 4)
    assert head.state_dict()['final_layer.weight'].shape == (17, 256, 1, 1)
    for i in (0, 3):
        deconv = head.deconv_layers[i]
        assert isinstance(deconv, nn.ConvTranspose2d) and deconv.bias is None
        assert (deconv.kernel_size, deconv.stride, deconv.padding, deconv.output_padding) == (
            (4, 4), (2, 2), (1, 1), (0, 0))
        assert isinstance(head.deconv_layers[i + 1], nn.BatchNorm2d)
        assert isinstance(head.deconv_layers[i + 2], nn.ReLU)


def test_simple_state_dict_keys():
    head = TopdownHeatmapSimpleHead(**SIMPLE)
    assert set(head.state_dict()) == {'final_layer.weight', 'final_layer.bias'}
    assert head.final_layer.weight.shape == (17, 768, 3, 3)
    assert head.final_layer.padding == (1, 1)


@pytest.mark.parametrize('cfg', [CLASSIC, SIMPLE], ids=['classic', 'simple'])
def test_output_shape(cfg):
    head = _randomize(TopdownHeatmapSimpleHead(**cfg))
    feats = _feats()
    out = head((feats, ))
    assert out.shape == (2, 17, 64, 48)
    # A bare tensor (the official backbone's output) gives the same result as mmpose 1.x's tuple.
    torch.testing.assert_close(head(feats), out, rtol=0, atol=0)


def test_simple_decoder_matches_hand_written_computation():
    head = _randomize(TopdownHeatmapSimpleHead(**SIMPLE))
    feats = _feats()
    before = feats.clone()
    expected = F.conv2d(
        F.interpolate(feats.clamp(min=0), scale_factor=4, mode='bilinear', align_corners=False),
        head.final_layer.weight, head.final_layer.bias, padding=1)
    torch.testing.assert_close(head((feats, )), expected)
    assert torch.equal(feats, before), 'the ReLU must not modify the backbone output in place'
    assert expected.abs().mean() > 1e-3


def test_in_index_selects_the_feature():
    feats = _feats()
    other = torch.zeros_like(feats)
    last = _randomize(TopdownHeatmapSimpleHead(**SIMPLE))  # default: the last feature, as mmpose 1.x heads
    torch.testing.assert_close(last((other, feats)), last(feats), rtol=0, atol=0)
    first = _randomize(TopdownHeatmapSimpleHead(**SIMPLE, in_index=0))
    torch.testing.assert_close(first((feats, other)), first(feats), rtol=0, atol=0)


def test_classic_decoder_equals_mmpose_heatmap_head():
    ours = _randomize(TopdownHeatmapSimpleHead(**CLASSIC))
    theirs = HeatmapHead(768, 17, deconv_out_channels=(256, 256), deconv_kernel_sizes=(4, 4)).eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    feats = (_feats(), )
    torch.testing.assert_close(ours(feats), theirs(feats), rtol=0, atol=0)


@pytest.mark.parametrize('cfg', [CLASSIC, SIMPLE], ids=['classic', 'simple'])
def test_official_state_dict_loads_by_name(cfg):
    head = TopdownHeatmapSimpleHead(**cfg)
    official = _official_state_dict(head)
    head.load_state_dict(official, strict=True)  # HeatmapHead's key-migration hook must leave these alone
    for key, value in official.items():
        assert torch.equal(head.state_dict()[key], value), key


def test_official_intermediate_conv_layers_default_to_none_and_to_1x1():
    """Without num_conv_layers no intermediate layers; num_conv_layers alone gives 1x1 ones (the official default)."""
    plain = TopdownHeatmapSimpleHead(**dict(CLASSIC, extra=dict(final_conv_kernel=1)))
    assert not any(k.startswith('conv_layers.') for k in plain.state_dict())
    none = TopdownHeatmapSimpleHead(**dict(CLASSIC, extra=dict(final_conv_kernel=1, num_conv_layers=0)))
    assert set(none.state_dict()) == set(plain.state_dict())
    two = TopdownHeatmapSimpleHead(**dict(CLASSIC, extra=dict(final_conv_kernel=1, num_conv_layers=2)))
    assert [two.conv_layers[i].weight.shape for i in (0, 3)] == [(256, 256, 1, 1)] * 2


def test_official_intermediate_conv_layers_are_migrated():
    # extra.num_conv_layers puts [Conv, BN, ReLU] stages into the official `final_layer` Sequential;
    # HeatmapHead's pre-hook moves them to `conv_layers`.
    head = TopdownHeatmapSimpleHead(**dict(CLASSIC, extra=dict(final_conv_kernel=1, num_conv_layers=1,
                                                               num_conv_kernels=(3, ))))
    assert head.conv_layers[0].weight.shape == (256, 256, 3, 3)
    ours = _official_state_dict(head)
    renamed = OrderedDict()
    for key, value in ours.items():
        if key.startswith('conv_layers.'):
            key = 'final_layer.' + key[len('conv_layers.'):]
        elif key.startswith('final_layer.'):
            key = 'final_layer.3.' + key[len('final_layer.'):]
        renamed[key] = value
    renamed._metadata = ours._metadata
    head.load_state_dict(renamed, strict=True)
    assert torch.equal(head.conv_layers[0].weight, ours['conv_layers.0.weight'])
    assert torch.equal(head.final_layer.weight, ours['final_layer.weight'])


def test_init_matches_official():
    head = TopdownHeatmapSimpleHead(**CLASSIC)
    head.init_weights()
    for weight in (head.deconv_layers[0].weight, head.deconv_layers[3].weight, head.final_layer.weight):
        assert abs(weight.mean().item()) < 1e-4
        assert 0.0009 < weight.std().item() < 0.0011
    assert torch.equal(head.final_layer.bias, torch.zeros(17))
    for bn in (head.deconv_layers[1], head.deconv_layers[4]):
        assert torch.equal(bn.weight, torch.ones(256)) and torch.equal(bn.bias, torch.zeros(256))


def _packed_samples(batch: int = 2, seed: int = 0):
    """PoseDataSamples built the way mmpose's pipeline builds them: UDP targets, then PackPoseInputs."""
    rng = np.random.default_rng(seed)
    generate, pack = GenerateTarget(encoder=UDP_CODEC), PackPoseInputs()
    samples = []
    for _ in range(batch):
        visible = np.ones((1, 17), dtype=np.float32)
        visible[0, rng.choice(17, 3, replace=False)] = 0
        results = dict(
            img=np.zeros((256, 192, 3), dtype=np.uint8),
            keypoints=rng.uniform((10, 10), (182, 246), size=(1, 17, 2)).astype(np.float32),
            keypoints_visible=visible,
            flip_indices=COCO_FLIP_INDICES,
            input_size=(192, 256))
        samples.append(pack(generate(results))['data_samples'])
    return samples


def test_loss_on_packed_samples():
    head = _randomize(TopdownHeatmapSimpleHead(**CLASSIC, loss=MSE)).train()
    samples = _packed_samples()
    feats = (_feats(), )
    losses = head.loss(feats, samples)
    assert set(losses) == {'loss_kpt', 'acc_pose'}
    assert losses['loss_kpt'].requires_grad and losses['loss_kpt'].item() > 0
    assert 0.0 <= float(losses['acc_pose']) <= 1.0

    # The mmpose 1.x KeypointMSELoss: mean squared error over all heatmap pixels, invisible keypoints masked.
    target = torch.stack([s.gt_fields.heatmaps for s in samples])
    weights = torch.cat([s.gt_instance_labels.keypoint_weights for s in samples])
    assert weights.shape == (2, 17) and (weights == 0).sum() == 6
    expected = ((head(feats) - target)**2 * weights[:, :, None, None]).mean()
    torch.testing.assert_close(losses['loss_kpt'], expected)


def test_loss_is_zero_when_output_equals_target(monkeypatch):
    head = TopdownHeatmapSimpleHead(**CLASSIC, loss=MSE)
    samples = _packed_samples()
    target = torch.stack([s.gt_fields.heatmaps for s in samples])
    assert target.amax() > 0.9  # real Gaussian peaks, so a zero loss means something
    monkeypatch.setattr(head, 'forward', lambda feats: target.clone())
    losses = head.loss((_feats(), ), samples)
    assert losses['loss_kpt'].item() == 0.0
    assert float(losses['acc_pose']) == 1.0


# Input channels come in mirror pairs (c, c + 384): the features of a flipped image are the mirrored features
# with each pair swapped, as a left/right-aware backbone would produce.
CHANNEL_FLIP = torch.cat([torch.arange(384, 768), torch.arange(0, 384)])


def _flip_feats(feats: torch.Tensor) -> torch.Tensor:
    return feats.flip(-1)[:, CHANNEL_FLIP]


def _equivariant_head(**kwargs) -> TopdownHeatmapSimpleHead:
    """A head that is exactly flip-equivariant for _flip_feats: ReLU, bilinear x4 (both mirror-symmetric) and
    a 1x1 conv with W[flip(k)] = W[k][CHANNEL_FLIP]. Its left and right heatmaps differ, so a flip test that
    forgot to swap keypoints (or to mirror) would not reproduce the plain prediction."""
    head = _randomize(TopdownHeatmapSimpleHead(**dict(SIMPLE, extra=dict(final_conv_kernel=1)), decoder=UDP_CODEC,
                                               **kwargs))
    weight, bias = head.final_layer.weight[:, :, 0, 0], head.final_layer.bias
    with torch.no_grad():
        for k, k_flip in enumerate(COCO_FLIP_INDICES):
            if k == k_flip:
                weight[k] = (weight[k] + weight[k][CHANNEL_FLIP]) / 2
            elif k < k_flip:
                weight[k_flip] = weight[k][CHANNEL_FLIP]
                bias[k_flip] = bias[k]
    return head


def test_predict_with_flip_test():
    head = _equivariant_head()
    samples = _packed_samples()
    feats = _feats()
    flip_cfg = dict(flip_test=True, flip_mode='heatmap', shift_heatmap=False, output_heatmaps=True)
    preds, heatmaps = head.predict([(feats, ), (_flip_feats(feats), )], samples, test_cfg=flip_cfg)
    plain, plain_heatmaps = head.predict((feats, ), samples, test_cfg=dict(output_heatmaps=True))
    assert len(preds) == 2
    for pred, ref in zip(preds, plain):
        assert isinstance(pred, InstanceData)
        assert pred.keypoints.shape == (1, 17, 2) and pred.keypoint_scores.shape == (1, 17)
    # Averaging with the mirrored, left/right-swapped heatmaps of an equivariant head changes nothing.
    # (Compared on heatmaps: decoding random heatmaps can flip between near-tied maxima.)
    for hm, ref in zip(heatmaps, plain_heatmaps):
        torch.testing.assert_close(hm.heatmaps, ref.heatmaps, rtol=0, atol=1e-5)
    np.testing.assert_allclose(preds[0].keypoints, plain[0].keypoints, atol=1e-3)

    # Controls: without the left/right swap, or with the unflipped features as the flipped view, the
    # heatmaps and keypoints move.
    for sample in samples:
        sample.set_metainfo(dict(flip_indices=list(range(17))))
    no_swap = head.predict([(feats, ), (_flip_feats(feats), )], samples, test_cfg=flip_cfg)
    unflipped = head.predict([(feats, ), (feats, )], samples, test_cfg=flip_cfg)
    for wrong_preds, wrong_heatmaps in (no_swap, unflipped):
        assert (wrong_heatmaps[0].heatmaps - plain_heatmaps[0].heatmaps).abs().max() > 0.5
        assert np.abs(wrong_preds[0].keypoints - plain[0].keypoints).max() > 1.0


def test_predict_output_heatmaps():
    head = _equivariant_head()
    preds, fields = head.predict((_feats(), ), _packed_samples(), test_cfg=dict(output_heatmaps=True))
    assert len(preds) == len(fields) == 2
    assert fields[0].heatmaps.shape == (17, 64, 48)


def test_official_and_mmpose_names_build_the_same_module():
    by_loss = TopdownHeatmapSimpleHead(**CLASSIC, loss=MSE)
    by_alias = TopdownHeatmapSimpleHead(**CLASSIC, loss_keypoint=MSE)
    by_default = TopdownHeatmapSimpleHead(**CLASSIC)
    from_registry = MODELS.build(dict(type='TopdownHeatmapSimpleHead', **CLASSIC, loss_keypoint=MSE))
    for head in (by_alias, by_default, from_registry):
        assert repr(head) == repr(by_loss)
        assert {k: v.shape for k, v in head.state_dict().items()} == {
            k: v.shape for k, v in by_loss.state_dict().items()}
        assert head.loss_module.use_target_weight


def test_loss_and_alias_together_raise():
    with pytest.raises(ValueError, match='loss_keypoint'):
        TopdownHeatmapSimpleHead(**CLASSIC, loss=MSE, loss_keypoint=MSE)
    with pytest.raises(ValueError, match='JointsMSELoss'):
        TopdownHeatmapSimpleHead(**CLASSIC, loss_keypoint=dict(type='JointsMSELoss', use_target_weight=True))


@pytest.mark.parametrize('kwargs, match', [
    (dict(extra=dict(final_conv_kernel=1, decay=1)), r"extra has unknown keys \['decay'\]"),
    (dict(extra=dict(final_conv_kernel=5)), 'final_conv_kernel'),
    (dict(extra=dict(num_conv_layers=2, num_conv_kernels=(3, ))), 'num_conv_kernels'),
    (dict(extra=dict(final_conv_kernel=1, num_conv_layers=-1)), r"num_conv_layers.*-1"),
    (dict(extra=dict(final_conv_kernel=1, num_conv_layers='2')), r"num_conv_layers.*'2'"),
    (dict(extra=[1]), 'extra.*list'),
    (dict(num_deconv_filters=(256, )), 'num_deconv_filters'),
    (dict(num_deconv_kernels=(4, 4, 4)), 'num_deconv_kernels'),
    (dict(num_deconv_layers=-1), 'num_deconv_layers'),
    (dict(input_transform='resize_concat'), 'input_transform'),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TopdownHeatmapSimpleHead(**dict(CLASSIC, **kwargs))


def test_deconv_lists_are_ignored_without_deconv_layers():
    # The brief's simple decoder leaves num_deconv_filters/kernels at their 3-entry defaults.
    head = TopdownHeatmapSimpleHead(768, 17, num_deconv_layers=0, upsample=4, extra=dict(final_conv_kernel=3))
    assert set(head.state_dict()) == {'final_layer.weight', 'final_layer.bias'}


@pytest.mark.parametrize('decoder', ['classic', 'simple'])
def test_in_topdown_pose_estimator_with_vit(decoder):
    """The head inside mmpose's TopdownPoseEstimator, after the project's ViT (which returns a 1-tuple).

    The head config uses the official `extra`, which mmpose's estimator rewrites into `final_layer`."""
    import vitpose_mm  # noqa: F401  (registers ViT)
    init_default_scope('mmpose')
    codec = dict(type='UDPHeatmap', input_size=(48, 64), heatmap_size=(12, 16), sigma=2)
    head_cfg = dict(type='TopdownHeatmapSimpleHead', in_channels=32, out_channels=17, loss=MSE, decoder=codec)
    if decoder == 'classic':
        head_cfg.update(num_deconv_layers=2, num_deconv_filters=(16, 16), num_deconv_kernels=(4, 4),
                        extra=dict(final_conv_kernel=1))
    else:
        head_cfg.update(num_deconv_layers=0, num_deconv_filters=[], num_deconv_kernels=[], upsample=4,
                        extra=dict(final_conv_kernel=3))
    model = MODELS.build(dict(
        type='TopdownPoseEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
        backbone=dict(type='ViT', img_size=(64, 48), embed_dim=32, depth=2, num_heads=2, qkv_bias=True),
        head=head_cfg,
        test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=False)))
    model.init_weights()
    kernel = 1 if decoder == 'classic' else 3
    assert model.head.final_layer.kernel_size == (kernel, kernel)
    assert model.head.final_layer.padding == (kernel // 2, kernel // 2)

    rng = np.random.default_rng(0)
    generate = GenerateTarget(encoder=codec)
    pack = PackPoseInputs(meta_keys=('input_size', 'input_center', 'input_scale', 'flip_indices'))
    batch = []
    for _ in range(2):
        results = dict(img=rng.integers(0, 255, (64, 48, 3), dtype=np.uint8),
                       keypoints=rng.uniform((4, 4), (44, 60), size=(1, 17, 2)).astype(np.float32),
                       keypoints_visible=np.ones((1, 17), dtype=np.float32), flip_indices=COCO_FLIP_INDICES,
                       input_size=(48, 64), input_center=np.array([24., 32.]), input_scale=np.array([48., 64.]),
                       bbox=np.array([[0., 0., 48., 64.]], dtype=np.float32), bbox_score=np.ones(1, np.float32))
        batch.append(pack(generate(results)))
    data = model.data_preprocessor(dict(inputs=[b['inputs'] for b in batch],
                                        data_samples=[b['data_samples'] for b in batch]), training=True)
    losses = model(**data, mode='loss')
    assert losses['loss_kpt'].item() > 0 and 'acc_pose' in losses
    model.eval()
    with torch.no_grad():
        results = model(**data, mode='predict')
    assert len(results) == 2
    assert results[0].pred_instances.keypoints.shape == (1, 17, 2)
    assert results[0].pred_instances.keypoint_scores.shape == (1, 17)


def test_final_layer_is_the_mmpose_form_of_extra():
    by_extra = TopdownHeatmapSimpleHead(**SIMPLE)
    by_final_layer = TopdownHeatmapSimpleHead(**dict(SIMPLE, extra=None,
                                                     final_layer=dict(kernel_size=3, padding=1)))
    assert repr(by_final_layer) == repr(by_extra)
    with pytest.raises(ValueError, match="final_layer.*extra\\['final_conv_kernel'\\]"):
        TopdownHeatmapSimpleHead(**dict(SIMPLE, final_layer=dict(kernel_size=3, padding=1)))


def test_flip_test_is_mmpose_heatmap_heads_with_and_without_shift():
    """The one-batch flip test gives mmpose's ``HeatmapHead.predict`` heatmaps (two passes) for shift_heatmap True,
    False and unset (mmpose's default: False), with the views given as feature tuples or as bare tensors."""
    small = dict(CLASSIC, in_channels=64, num_deconv_filters=(32, 32))  # the classic decoder, narrower
    codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)  # decodes quickly
    ours = _randomize(TopdownHeatmapSimpleHead(**small, decoder=codec))
    theirs = HeatmapHead(64, 17, deconv_out_channels=(32, 32), deconv_kernel_sizes=(4, 4), decoder=codec)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    theirs.eval()
    samples = _packed_samples()
    feats, flipped = _feats()[:, :64], _feats(seed=2)[:, :64]
    got = {}
    for shift in (True, False, None):
        cfg = dict(flip_test=True, output_heatmaps=True, **({} if shift is None else dict(shift_heatmap=shift)))
        want = theirs.predict([(feats, ), (flipped, )], samples, test_cfg=cfg)[1]
        mine = ours.predict([(feats, ), (flipped, )], samples, test_cfg=cfg)[1]
        bare = ours.predict([feats, flipped], samples, test_cfg=cfg)[1]
        for w, m, b in zip(want, mine, bare):
            torch.testing.assert_close(m.heatmaps, w.heatmaps, rtol=0, atol=1e-5)
            torch.testing.assert_close(b.heatmaps, m.heatmaps, rtol=0, atol=0)
        got[shift] = torch.stack([m.heatmaps for m in mine])
    assert torch.equal(got[None], got[False])
    assert (got[True] - got[False]).abs().max() > 1e-3  # the shift is one heatmap pixel: it shows


def test_flip_test_takes_a_list_of_two_views():
    """As in mmpose's HeatmapHead: with the flip test, feats must be the list [feats, feats_flipped]; a tuple of
    two views (the form of one backbone output) or a third view is refused."""
    head = _equivariant_head()
    samples = _packed_samples()
    feats = (_feats(), )
    for bad in ((feats, feats), [feats, feats, feats]):
        with pytest.raises(AssertionError, match='feats_flipped'):
            head.predict(bad, samples, test_cfg=dict(flip_test=True))
