"""Bottom-up ViTPose: the deconv neck, decoding a hand-made two-person target through the demo model, padding of
inputs whose sides are not multiples of 16, the 16x12 -> 32x32 position grid, and ViTPose+ routing."""
import logging
import os.path as osp
from unittest import mock

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.structures import PoseDataSample

import vitpose_mm  # noqa: F401  (registration)
from conftest import ROOT
from vitpose_mm.models import DeconvUpsampleNeck, ViT

DEMO_DIR = osp.join(ROOT, 'configs', 'bottomup', 'demo')
DEMO = osp.join(DEMO_DIR, 'bottomup_ViTPose-tiny_1xb16_synthetic-128x160.py')  # associative embedding
DEKR_DEMO = osp.join(DEMO_DIR, 'dekr_ViTPose-tiny_1xb16_synthetic-128x160.py')


def demo_model(path=DEMO):
    cfg = Config.fromfile(path)
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    model.eval()
    return cfg, model


# ---- the neck ------------------------------------------------------------------------------------------------
def test_neck_upsamples_by_four_with_the_classic_decoder_names():
    neck = DeconvUpsampleNeck(in_channels=24, out_channels=(16, 8), kernel_sizes=(4, 4))
    out = neck((torch.randn(2, 24, 5, 7), ))
    assert isinstance(out, tuple) and out[0].shape == (2, 8, 20, 28)
    # the names of the top-down head's deconv stages: deconv, BN, ReLU, deconv, BN, ReLU
    assert [k for k in neck.state_dict() if k.endswith('weight')] == [
        'deconv_layers.0.weight', 'deconv_layers.1.weight', 'deconv_layers.3.weight', 'deconv_layers.4.weight']
    assert neck.deconv_layers[0].stride == (2, 2) and neck.deconv_layers[0].kernel_size == (4, 4)


def test_neck_refuses_mismatched_stages():
    with pytest.raises(ValueError, match='kernel_sizes'):
        DeconvUpsampleNeck(in_channels=8, out_channels=(8, 8), kernel_sizes=(4, ))
    with pytest.raises(ValueError, match='kernel size 5'):
        DeconvUpsampleNeck(in_channels=8, out_channels=(8, ), kernel_sizes=(5, ))


# ---- padding -------------------------------------------------------------------------------------------------
def test_inputs_not_multiple_of_16_are_padded_bottom_right_so_no_pixel_is_dropped():
    cfg, model = demo_model()
    img = torch.randint(0, 255, (3, 250, 330), dtype=torch.uint8)
    data = model.data_preprocessor(dict(inputs=[img], data_samples=[PoseDataSample()]))
    x = data['inputs']
    assert x.shape[-2:] == (256, 352)  # multiples of 32: whole 16x16 patches, even 1/4 maps
    # bottom/right padding: the image sits at the top left, so image coordinates are unchanged
    mean = torch.tensor(cfg.model.data_preprocessor.mean).view(3, 1, 1)
    std = torch.tensor(cfg.model.data_preprocessor.std).view(3, 1, 1)
    torch.testing.assert_close(x[0, :, :250, :330], (img.flip(0).float() - mean) / std)
    assert (x[0, :, 250:] == 0).all() and (x[0, :, :, 330:] == 0).all()
    assert model.backbone(x)[0].shape[-2:] == (16, 22)
    # without the padding the official patch embedding drops the last pixels (250 rows give 15 patch rows)
    assert model.backbone(x[..., :250, :330])[0].shape[-2:] == (15, 20)
    with torch.no_grad():
        heatmaps, tags = model(x, None, mode='tensor')
    assert heatmaps.shape == (1, 17, 64, 88) and tags.shape == (1, 17, 64, 88)


# ---- a hand-made two-person target decodes through the model -------------------------------------------------
def two_people() -> np.ndarray:
    """Two people (17 COCO keypoints each) in a 330x250 image (x, y in pixels)."""
    base = np.array([[30, 20], [33, 17], [27, 17], [37, 19], [23, 19], [42, 35], [18, 35], [48, 55], [12, 55],
                     [50, 72], [10, 72], [38, 80], [22, 80], [40, 110], [20, 110], [41, 140], [19, 140]], float)
    return np.stack([base + (40.3, 50.6), base * 0.8 + (200.7, 70.2)])


def test_two_person_dekr_target_decodes_to_both_people_within_a_pixel(tmp_path):
    cfg, model = demo_model(DEKR_DEMO)
    people = two_people()
    img_path = str(tmp_path / 'two.png')
    cv2.imwrite(img_path, np.full((250, 330, 3), 127, np.uint8))  # sides not multiples of 16
    pipeline = Compose(cfg.val_pipeline)
    sample = pipeline(dict(img_path=img_path, id=0, img_id=0, flip_indices=list(range(17))))
    meta = sample['data_samples'].metainfo
    w_in, h_in = meta['input_size']
    center, scale = np.asarray(meta['input_center']), np.asarray(meta['input_scale'])
    data = pseudo_collate([sample])
    with torch.no_grad():
        heatmaps, displacements = model(model.data_preprocessor(data)['inputs'], None, mode='tensor')
    # the target the head should output: mmpose's SPR encoding of the two people, at the head's output size
    codec = KEYPOINT_CODECS.build(dict(cfg.model.head.decoder, input_size=(w_in, h_in),
                                       heatmap_size=(w_in // 4, h_in // 4)))
    in_input = (people - center + 0.5 * scale) / scale * np.array([w_in, h_in])
    target = codec.encode(in_input, np.ones(people.shape[:2]))
    hm, disp = torch.from_numpy(target['heatmaps']), torch.from_numpy(target['displacements'])
    assert hm.shape == heatmaps.shape[1:] and disp.shape == displacements.shape[1:]
    with mock.patch.object(type(model.head), 'forward', lambda self, feats: (hm[None], disp[None])):
        with torch.no_grad():
            pred = model.test_step(data)[0].pred_instances
    assert len(pred.keypoints) == 2
    order = np.argsort(pred.keypoints[:, 0, 0])
    np.testing.assert_allclose(pred.keypoints[order], people, atol=1.0)
    assert (pred.keypoint_scores > 0.5).all()


# ---- position grid: a top-down 16x12 checkpoint initialises a 512x512 (32x32) bottom-up backbone ---------------
DIMS = dict(patch_size=16, embed_dim=32, depth=2, num_heads=4, qkv_bias=True)


def test_top_down_checkpoint_grid_16x12_resampled_to_32x32(tmp_path):
    top_down = ViT(img_size=(256, 192), **DIMS)
    assert top_down.patch_shape == (16, 12)
    sd = {f'backbone.{k}': v for k, v in top_down.state_dict().items()}
    sd['head.final_layer.weight'] = torch.zeros(17, 32, 1, 1)
    path = str(tmp_path / 'td.pth')
    torch.save(dict(state_dict=sd, meta=dict(vitpose_mm=dict(grid=[16, 12], patch_size=[16, 16]))), path)

    bottom_up = ViT(img_size=(512, 512), init_cfg=dict(type='ViTPosePretrained', checkpoint=path), **DIMS)
    assert bottom_up.patch_shape == (32, 32)
    lines = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())
    MMLogger.get_current_instance().addHandler(handler)
    try:
        bottom_up.init_weights()
    finally:
        MMLogger.get_current_instance().removeHandler(handler)

    src = top_down.pos_embed.detach()
    # independent: the 192 patch rows are a 16 (rows) x 12 (columns) grid, row-major, resampled bicubically
    grid = src[0, 1:].reshape(16, 12, 32).permute(2, 0, 1)[None]
    expected = F.interpolate(grid, size=(32, 32), mode='bicubic', align_corners=False)[0].permute(1, 2, 0)
    torch.testing.assert_close(bottom_up.pos_embed.data[0, 1:], expected.reshape(1024, 32))
    torch.testing.assert_close(bottom_up.pos_embed.data[0, :1], src[0, :1])  # the class-token row as it was
    transposed = F.interpolate(src[0, 1:].reshape(12, 16, 32).permute(2, 0, 1)[None], size=(32, 32),
                               mode='bicubic', align_corners=False)[0].permute(1, 2, 0).reshape(1024, 32)
    assert not torch.allclose(bottom_up.pos_embed.data[0, 1:], transposed, atol=1e-3)
    torch.testing.assert_close(bottom_up.blocks[1].mlp.fc1.weight.data, top_down.blocks[1].mlp.fc1.weight.data)
    grid_lines = [m for m in lines if 'resampled' in m]
    assert len(grid_lines) == 1 and '16x12' in grid_lines[0] and '32x32' in grid_lines[0], lines


# ---- ViTPose+ : experts routed by dataset for bottom-up heads ----------------------------------------------------
def plus_model():
    init_default_scope('mmpose')
    dekr = dict(type='DEKRHead', in_channels=16, num_displacement_filters_per_keypoint=2,
                decoder=dict(type='SPR', input_size=(64, 64), heatmap_size=(16, 16), sigma=(4, 2),
                             generate_keypoint_heatmaps=True))
    model = MODELS.build(dict(
        type='MultiDatasetBottomupPoseEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor'),
        backbone=dict(type='ViT', img_size=(64, 64), embed_dim=32, depth=1, num_heads=2, num_expert=2,
                      part_features=8, qkv_bias=True),
        neck=dict(type='DeconvUpsampleNeck', in_channels=32, out_channels=(16, 16)),
        heads=dict(coco=dict(dekr, num_keypoints=17), crowdpose=dict(dekr, num_keypoints=14)),
        test_cfg=dict(flip_test=False)))
    return model.eval()


def sample(name: str, k: int) -> PoseDataSample:
    return PoseDataSample(metainfo=dict(dataset_name=name, flip_indices=list(range(k)), input_size=(64, 64),
                                        input_center=np.array([32., 32.]), input_scale=np.array([64., 64.])))


def test_vitpose_plus_bottom_up_routes_each_sample_to_its_dataset_expert():
    model = plus_model()
    seen = []
    forward = model.backbone.forward
    model.backbone.forward = lambda x, dataset_source=None: (seen.append(dataset_source), forward(x, dataset_source))[1]
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        preds = model.predict(x, [sample('crowdpose', 14), sample('coco', 17)])
    assert seen[0].tolist() == [1, 0]
    assert preds[0].pred_instances.keypoints.shape[1:] == (14, 2)
    assert preds[1].pred_instances.keypoints.shape[1:] == (17, 2)
    # the expert matters: the crowdpose image through expert 0 gives other features
    with torch.no_grad():
        own = forward(x[:1], torch.tensor([1]))[0]
        other = forward(x[:1], torch.tensor([0]))[0]
    assert not torch.allclose(own, other)


def test_vitpose_plus_bottom_up_refuses_a_head_of_another_keypoint_count_and_multiscale():
    model = plus_model()
    with pytest.raises(ValueError, match='num_keypoints=17'):
        model.route([sample('crowdpose', 17)], torch.device('cpu'))
    with pytest.raises(ValueError, match='multiscale_test'):
        MODELS.build(dict(type='MultiDatasetBottomupPoseEstimator', backbone=dict(type='ViT', embed_dim=32, depth=1,
                                                                                   num_heads=2),
                          heads=dict(coco=dict(type='DEKRHead', in_channels=32, num_keypoints=17)),
                          test_cfg=dict(multiscale_test=True)))


def test_vitpose_plus_bottom_up_trains_only_what_trainable_names():
    """The top-down estimator's ``trainable`` (adding a dataset: its expert and head only) works for bottom-up heads,
    and a positional test_cfg cannot slip past the multi-scale check (everything after ``heads`` is by keyword)."""
    model = MODELS.build(dict(
        type='MultiDatasetBottomupPoseEstimator',
        backbone=dict(type='ViT', img_size=(64, 64), embed_dim=32, depth=1, num_heads=2, num_expert=2,
                      part_features=8, qkv_bias=True),
        neck=dict(type='DeconvUpsampleNeck', in_channels=32, out_channels=(16, 16)),
        heads=dict(coco=dict(type='AssociativeEmbeddingHead', in_channels=16, num_keypoints=17,
                             deconv_out_channels=None),
                   crowdpose=dict(type='AssociativeEmbeddingHead', in_channels=16, num_keypoints=14,
                                  deconv_out_channels=None)),
        trainable=[r'heads\.crowdpose\..+', r'backbone\.blocks\.\d+\.mlp\.experts\.1\..+']))
    trained = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert trained and all(n.startswith('heads.crowdpose.') or '.experts.1.' in n for n in trained)
    assert any('.experts.1.' in n for n in trained) and not any(n.startswith('heads.coco.') for n in trained)
    from vitpose_mm.models.pose_estimators.multi_dataset_bottomup import MultiDatasetBottomupPoseEstimator
    with pytest.raises(TypeError):
        MultiDatasetBottomupPoseEstimator(dict(type='ViT'), dict(coco=dict(type='DEKRHead')), None, None, None, None,
                                          dict(multiscale_test=True))


# ---- the workaround of mmpose 1.3.2's associative-embedding training ----------------------------------------------
def test_ae_targets_are_packed_and_the_heatmap_loss_ignores_instance_weights():
    from mmpose.datasets.transforms import GenerateTarget, PackPoseInputs
    encoder = dict(type='AssociativeEmbeddingTargets', input_size=(64, 64), heatmap_size=(16, 16), sigma=2)
    results = dict(img=np.zeros((64, 64, 3), np.uint8), keypoints=np.array([[[10., 10.], [20., 30.]],
                                                                             [[40., 40.], [50., 61.]]]),
                   keypoints_visible=np.ones((2, 2)))
    packed = PackPoseInputs()(GenerateTarget(encoder=encoder)(results))['data_samples']
    indices = packed.gt_instance_labels.keypoint_indices
    assert indices.shape == (2, 2, 2)
    assert indices[1].tolist() == [[10 * 16 + 10, 1], [15 * 16 + 13, 1]]  # (y * w + x at 1/4, rounded; visible)
    assert packed.gt_instance_labels.keypoint_weights.shape == (2, 2)

    loss = MODELS.build(dict(type='AssociativeEmbeddingHeatmapLoss'))
    out, target, mask = torch.rand(2, 2, 16, 16), torch.rand(2, 2, 16, 16), torch.ones(2, 1, 16, 16)
    mask[1, :, :8] = 0
    three_instances = torch.ones(3, 2)  # what the head passes for 3 people in 2 images
    expected = MODELS.build(dict(type='KeypointMSELoss'))(out, target, None, mask)
    torch.testing.assert_close(loss(out, target, three_instances, mask), expected)
    with pytest.raises(ValueError, match='use_target_weight'):
        MODELS.build(dict(type='AssociativeEmbeddingHeatmapLoss', use_target_weight=True))


def test_two_person_ae_target_decodes_without_flip_test(tmp_path):
    """The demo's head (associative embedding, no flip test): the codec's heatmaps of the two people and one tag
    value per person are grouped into the two people, each keypoint within 1.25 heatmap pixels (a heatmap pixel is 4
    input pixels, about 8 image pixels here): the codec draws each Gaussian at the nearest whole heatmap pixel (up
    to half a pixel off) and the decoder shifts peaks by ``decode_center_shift=0.5`` pixel."""
    cfg, model = demo_model()
    people = two_people()
    img_path = str(tmp_path / 'two.png')
    cv2.imwrite(img_path, np.full((250, 330, 3), 127, np.uint8))
    sample = Compose(cfg.val_pipeline)(dict(img_path=img_path, id=0, img_id=0, flip_indices=list(range(17))))
    meta = sample['data_samples'].metainfo
    w_in, h_in = meta['input_size']
    center, scale = np.asarray(meta['input_center']), np.asarray(meta['input_scale'])
    in_input = (people - center + 0.5 * scale) / scale * np.array([w_in, h_in])
    codec = KEYPOINT_CODECS.build(dict(cfg.codec, input_size=(w_in, h_in), heatmap_size=(w_in // 4, h_in // 4)))
    hm = torch.from_numpy(codec.encode(in_input, np.ones(people.shape[:2]))['heatmaps'])
    tags = torch.zeros_like(hm)
    tags[..., w_in // 8:] = 2.  # the second person stands in the right half of the image
    with mock.patch.object(type(model.head), 'forward', lambda self, feats: (hm[None], tags[None])):
        with torch.no_grad():
            pred = model.test_step(pseudo_collate([sample]))[0].pred_instances
    assert len(pred.keypoints) == 2
    order = np.argsort(pred.keypoints[:, 0, 0])
    heatmap_pixel = 4 * scale[0] / w_in  # in image pixels
    np.testing.assert_allclose(pred.keypoints[order], people, atol=1.25 * heatmap_pixel)
