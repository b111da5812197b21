"""PoseEstimator on a bottom-up config: known people found, an empty image gives nobody, the flip test with the
dataset's flip indices, images of any kind and size, and what is refused (boxes, a detector, a top-down checkpoint,
a head the installed mmpose lacks)."""
import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from bottomup_models import BU_CONFIG, build_bottomup_model, input_meta, two_people, use_oracle
from vitpose_mm.apis import PoseEstimator
from vitpose_mm.apis.bottomup import keypoint_boxes


def people_array(people):
    return np.stack([p.keypoints for p in people]) if people else np.zeros((0, 17, 2), np.float32)


@pytest.mark.parametrize('hw', [(150, 200), (250, 170), (5, 7)], ids=['150x200', '250x170', 'smaller-than-a-patch'])
def test_known_people_are_found_at_their_keypoints(hw):
    """Two people encoded with the model's own codec come back at their keypoints, in image pixels, whatever the
    image's size (sides not multiples of 16, or smaller than one 16x16 patch: BottomupResize scales it)."""
    h, w = hw
    img = np.random.default_rng(1).integers(0, 256, (h, w, 3), dtype=np.uint8)
    truth = two_people(h, w)
    model = use_oracle(build_bottomup_model(flip_test=False), img, truth)
    people = PoseEstimator(model)(img)
    assert len(people) == 2
    got = people_array(people)
    order = np.argsort(got[:, :, 0].mean(axis=1))  # left person first, as in ``truth``
    # SPR decodes a keypoint as its root's grid position plus the displacement: exact up to float rounding
    np.testing.assert_allclose(got[order], truth, atol=1e-3 * max(h, w) + 1e-3)
    for person in people:
        np.testing.assert_allclose(person.bbox, keypoint_boxes(person.keypoints[None])[0])
        assert person.bbox_score == pytest.approx(person.keypoint_scores.mean(), rel=1e-5)
        assert person.bbox_score > 0.5  # the encoded peaks are 1: root score x keypoint score


def _constant_head(model, value: float):
    """The DEKR head's heatmaps all ``value`` (root and keypoints), displacements 0: a flat map, the "noise" of an
    image without people."""
    final = model.head.heatmap_conv_layers[-1]
    with torch.no_grad():
        final.weight.zero_()
        final.bias.fill_(value)
    return model


def test_empty_image_gives_an_empty_list():
    blank = np.full((120, 160, 3), 127, np.uint8)
    # below the SPR codec's decode_thr (0.01): the head itself finds nobody
    model = _constant_head(build_bottomup_model(), 0.005)
    assert PoseEstimator(model)(blank) == []
    # flat 0.05 maps: the head keeps candidates (0.05 > decode_thr) whose person score (0.05 x 0.05) is noise
    model = _constant_head(build_bottomup_model(), 0.05)
    assert PoseEstimator(model)(blank) == []  # person_thr=0.1
    noise = PoseEstimator(model, person_thr=float('-inf'))(blank)
    assert len(noise) > 0 and max(p.bbox_score for p in noise) == pytest.approx(0.05 * 0.05, rel=1e-3)


def test_flip_test_averages_with_the_dataset_flip_indices():
    """The flip path's averaged maps (mmpose's DEKRHead.predict, output_heatmaps) equal a hand computation: the
    mirrored image's maps mirrored back, channels swapped by the dataset's flip indices (root last, unswapped),
    heatmaps shifted one pixel right (shift_heatmap), displacements with x negated and mmpose's x amendment."""
    model = build_bottomup_model(flip_test=True, output_heatmaps=True)
    img = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    sample = PoseEstimator(model).pose_model.test_step(_batch(model, img))[0]
    x = model.data_preprocessor(_batch(model, img), False)['inputs']
    with torch.no_grad():
        heat, disp = model.head.forward(model.extract_feat(x))
        heat_f, disp_f = model.head.forward(model.extract_feat(x.flip(-1)))
    flip = model.dataset_meta['flip_indices']
    assert flip[1] == 2 and flip[5] == 6  # left_eye <-> right_eye, left_shoulder <-> right_shoulder
    mirrored = heat_f.flip(-1)[:, flip + [17]]
    mirrored[..., 1:] = mirrored[..., :-1].clone()
    np.testing.assert_allclose(sample.pred_fields.heatmaps.numpy(), ((heat + mirrored) / 2)[0].numpy(), atol=1e-6)
    d = disp_f.view(1, 17, 2, *disp_f.shape[-2:]).clone()
    d[:, :, 0] = -d[:, :, 0]
    d = d[:, flip].flip(-1).reshape(disp_f.shape)
    scale = 64 / heat.shape[-1]  # input width over heatmap width
    d[:, ::2] += (scale - 1) / scale
    np.testing.assert_allclose(sample.pred_fields.displacements.numpy(), ((disp + d) / 2)[0].numpy(), atol=1e-5)
    # the swap matters: identity indices would give other maps
    assert (heat_f.flip(-1)[:, :17] - heat_f.flip(-1)[:, flip]).abs().max() > 1e-3


def _batch(model, img):
    from mmcv.transforms import Compose
    from mmengine.dataset import pseudo_collate
    data = dict(img=img.copy(), **model.dataset_meta)
    return pseudo_collate([Compose(model.cfg.test_dataloader.dataset.pipeline)(data)])


def test_grey_rgba_and_16_bit_images_give_the_colour_image_people():
    model = build_bottomup_model(flip_test=False)
    estimator = PoseEstimator(model, person_thr=float('-inf'))
    grey = np.random.default_rng(3).integers(0, 256, (96, 120), dtype=np.uint8)
    want = people_array(estimator(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)))
    assert len(want) > 0
    for variant in (grey, grey.astype(np.uint16) << 8 | 77, Image.fromarray(grey).convert('RGBA')):
        np.testing.assert_array_equal(people_array(estimator(variant)), want)
    rgba = np.dstack([cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), np.full_like(grey, 9)])
    np.testing.assert_array_equal(people_array(estimator(rgba)), want)


def test_bad_images_are_refused_by_name():
    estimator = PoseEstimator(build_bottomup_model(flip_test=False))
    with pytest.raises(ValueError, match='float32'):
        estimator(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(ValueError, match=r'\(0, 40, 3\)'):
        estimator(np.zeros((0, 40, 3), np.uint8))
    with pytest.raises(TypeError, match='list'):
        estimator([[0, 1]])


def test_boxes_and_a_detector_are_refused_for_a_bottom_up_model():
    model = build_bottomup_model(flip_test=False)
    estimator = PoseEstimator(model)
    assert estimator.data_mode == 'bottomup'
    with pytest.raises(ValueError, match='bboxes'):
        estimator(np.zeros((32, 32, 3), np.uint8), bboxes=np.array([[0, 0, 10, 10]]))
    with pytest.raises(ValueError, match='detector'):
        PoseEstimator(model, detector=torch.nn.Identity())
    with pytest.raises(ValueError, match='det_config'):
        PoseEstimator.from_config(BU_CONFIG, det_config='any_detector.py')
    with pytest.raises(ValueError, match="precision='bf16'"):
        PoseEstimator(model, precision='bf16')


def test_a_top_down_checkpoint_says_what_it_is_and_how_to_initialise(tmp_path):
    from inference_models import save_pose_checkpoint
    from vitpose_mm.checkpoints import CheckpointMismatchError
    ckpt = save_pose_checkpoint(str(tmp_path / 'topdown.pth'))
    with pytest.raises(CheckpointMismatchError, match='bottom-up') as e:
        PoseEstimator.from_config(BU_CONFIG, ckpt)
    assert 'a pose checkpoint' in str(e.value) and 'model.backbone.init_cfg' in str(e.value)


def test_a_head_the_installed_mmpose_lacks_is_named_with_its_version(tmp_path):
    import mmpose
    cfg = tmp_path / 'bad_head.py'
    cfg.write_text(f"_base_ = ['{BU_CONFIG}']\nmodel = dict(head=dict(type='SwinDEKRHead'))\n")
    with pytest.raises(ValueError, match=f"SwinDEKRHead.*mmpose {mmpose.__version__}"):
        PoseEstimator.from_config(str(cfg))


def test_people_are_sorted_by_score_and_thresholded():
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample

    from vitpose_mm.apis.bottomup import people_from_sample
    kpts = np.random.default_rng(0).uniform(0, 50, (3, 17, 2)).astype(np.float32)
    sample = PoseDataSample(pred_instances=InstanceData(
        keypoints=kpts, keypoint_scores=np.full((3, 17), 0.5, np.float32), bbox_scores=np.array([0.2, 0.9, 0.05])))
    people = people_from_sample(sample, person_thr=0.1)
    assert [p.bbox_score for p in people] == pytest.approx([0.9, 0.2])
    np.testing.assert_array_equal(people[0].keypoints, kpts[1])
    assert people[0].score() == pytest.approx(0.9 * 0.5)
    empty = PoseDataSample(pred_instances=InstanceData(keypoints=np.zeros((0, 17, 2)),
                                                      keypoint_scores=np.zeros((0, 17))))
    assert people_from_sample(empty) == []


def test_input_meta_of_an_odd_image():
    """What the model sees of a 250x170 image: 'expand' resize to a multiple of size_factor (32)."""
    model = build_bottomup_model(flip_test=False)
    meta = input_meta(model, np.zeros((250, 170, 3), np.uint8))
    assert all(int(v) % 32 == 0 for v in meta['input_size'])


def test_a_dekr_checkpoint_loads_unchanged(tmp_path):
    """The package's loader keeps the model's module versions: without them mmpose's DEKRHead would take the file for
    an mmpose 0.x one and roll its root heatmap channel to the front."""
    from bottomup_models import save_bottomup_checkpoint
    ckpt = save_bottomup_checkpoint(str(tmp_path / 'bu.pth'))
    saved = torch.load(ckpt, weights_only=True)['state_dict']
    loaded = PoseEstimator.from_config(BU_CONFIG, ckpt).pose_model.state_dict()
    for key in ('head.heatmap_conv_layers.2.weight', 'head.heatmap_conv_layers.2.bias'):
        assert torch.equal(loaded[key], saved[key]), key
