"""What PoseEstimator accepts: paths, BGR/RGB arrays, PIL images of every mode, xyxy/xywh boxes; and clear errors."""
import pathlib

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from inference_models import build_pose_model
from mmpose.datasets.transforms import PackPoseInputs
from vitpose_mm.apis import PIL_MODES, PoseEstimator, inference, load_image


@pytest.fixture(scope='module')
def estimator():
    torch.manual_seed(0)
    return PoseEstimator(build_pose_model())


@pytest.fixture(scope='module')
def bgr():
    # smooth colour blobs (left red, right blue) so that swapping channels moves the keypoints a lot
    rng = np.random.default_rng(0)
    img = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (160, 120), interpolation=cv2.INTER_CUBIC)
    img[:, :60, 2] = 255
    img[:, 100:, 0] = 255
    return img


def _kpts(estimator, img, **kwargs):
    return estimator(img, **kwargs)[0].keypoints


def test_paths_as_str_and_pathlike(estimator, bgr, tmp_path):
    path = tmp_path / 'img.png'
    cv2.imwrite(str(path), bgr)
    ref = _kpts(estimator, bgr)
    np.testing.assert_array_equal(_kpts(estimator, str(path)), ref)
    np.testing.assert_array_equal(_kpts(estimator, pathlib.Path(path)), ref)


def test_rgb_arrays_with_channel_order(estimator, bgr):
    ref = _kpts(estimator, bgr)
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    np.testing.assert_array_equal(_kpts(estimator, rgb, channel_order='rgb'), ref)
    np.testing.assert_array_equal(_kpts(estimator, bgr, channel_order='bgr'), ref)
    rgba = np.concatenate([rgb, np.full((120, 160, 1), 9, np.uint8)], axis=2)
    np.testing.assert_array_equal(_kpts(estimator, rgba, channel_order='rgb'), ref)
    # control: the RGB array read as BGR is another image, with keypoints far away
    assert np.abs(_kpts(estimator, rgb) - ref).max() > 5


def test_pil_rgb_and_rgba_are_read_as_rgb(estimator, bgr):
    ref = _kpts(estimator, bgr)
    pil = Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1]))
    np.testing.assert_array_equal(_kpts(estimator, pil), ref)
    rgba = pil.convert('RGBA')
    rgba.putalpha(3)
    np.testing.assert_array_equal(_kpts(estimator, rgba), ref)


def test_pil_palette_image_is_looked_up(estimator, bgr):
    pil = Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1])).quantize(colors=32)
    assert pil.mode == 'P'
    looked_up = np.asarray(pil.convert('RGB'))[:, :, ::-1]
    np.testing.assert_array_equal(load_image(pil), looked_up)
    np.testing.assert_array_equal(_kpts(estimator, pil), _kpts(estimator, np.ascontiguousarray(looked_up)))
    # control: the palette indices as grey levels are another image
    assert np.abs(load_image(pil).astype(int) - cv2.cvtColor(np.asarray(pil), cv2.COLOR_GRAY2BGR)).max() > 50


def test_pil_grey_and_16_bit_images(estimator, bgr):
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    ref = _kpts(estimator, grey)
    for pil in (Image.fromarray(grey), Image.fromarray(grey).convert('LA')):
        np.testing.assert_array_equal(_kpts(estimator, pil), ref)
    deep = grey.astype(np.uint16) * 256 + 100  # 16-bit levels whose high byte is the 8-bit image
    pil16 = Image.fromarray(deep)
    assert pil16.mode.startswith('I;16')
    np.testing.assert_array_equal(load_image(pil16), cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    np.testing.assert_array_equal(load_image(Image.fromarray(deep.astype(np.int32))), load_image(pil16))  # mode I
    np.testing.assert_array_equal(_kpts(estimator, pil16), ref)
    binary = Image.fromarray(grey > 128)
    assert binary.mode == '1'
    assert set(np.unique(load_image(binary))) == {0, 255}


def test_pil_cmyk_and_ycbcr_as_pillow_converts_them(bgr):
    rgb = Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1]))
    for mode in ('CMYK', 'YCbCr', 'HSV'):
        img = rgb.convert(mode)
        np.testing.assert_array_equal(load_image(img), np.asarray(img.convert('RGB'))[:, :, ::-1])


def test_16_bit_grey_limits_are_accepted():
    """0 and 65535 are the ends of 16-bit grey: a mode-I image holding them loads as the same uint16 array would."""
    ends = np.array([[0, 65535], [65535, 0]], np.int32)
    np.testing.assert_array_equal(load_image(Image.fromarray(ends)), load_image(ends.astype(np.uint16)))


@pytest.mark.parametrize('img, kwargs, error, match', [
    (np.zeros((8, 8, 3), np.uint8), dict(channel_order='bgra'), ValueError, r"\['bgr', 'rgb'\].*'bgra'"),
    ('x.png', dict(channel_order='rgb'), ValueError, "channel_order='rgb'.*str"),
    (Image.new('RGB', (8, 8)), dict(channel_order='rgb'), ValueError, "channel_order='rgb'.*Image"),
    (Image.new('F', (8, 8)), {}, ValueError, r"'F'.*\['1', 'L'"),
    (Image.fromarray(np.full((8, 8), 65536, np.int32)), {}, ValueError,
     r"'I'.*65536..65536"),
    (Image.fromarray(np.full((8, 8), -1, np.int32)), {}, ValueError, r'got values in -1..-1'),
    (b'x.png', {}, TypeError, 'got bytes'),
    ([[0, 1], [2, 3]], {}, TypeError, 'got list'),
    (np.zeros((8, 8, 3), np.float32), {}, ValueError, 'float32'),
    (np.zeros((8, 8, 2), np.uint8), {}, ValueError, r'\(8, 8, 2\)'),
])
def test_bad_images_are_clear_errors(img, kwargs, error, match):
    with pytest.raises(error, match=match):
        load_image(img, **kwargs)
    assert 'F' not in PIL_MODES


def test_xywh_boxes(estimator, bgr):
    xyxy = [[10, 20, 70, 100, 0.9], [90, 5, 150, 115, 0.8]]
    xywh = [[10, 20, 60, 80, 0.9], [90, 5, 60, 110, 0.8]]
    ref = estimator(bgr, xyxy)
    got = estimator(bgr, xywh, bbox_format='xywh')
    for a, b in zip(got, ref):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        np.testing.assert_array_equal(a.bbox, b.bbox)
    with pytest.raises(ValueError, match=r"\['xyxy', 'xywh'\].*'cxcywh'"):
        estimator(bgr, xyxy, bbox_format='cxcywh')
    with pytest.raises(ValueError, match='all rows of one length'):
        estimator(bgr, [[10, 20, 70, 100, 0.9], [1, 2, 3, 4]])


def test_dropped_inverted_boxes_hint_at_xywh(estimator, bgr, monkeypatch):
    logged = []
    monkeypatch.setattr(inference, 'print_log', lambda msg, *args, **kwargs: logged.append(msg))
    people = estimator(bgr, [[60, 50, 30, 40]])  # x, y, w, h read as corners: inverted
    assert people == []
    assert '1 of them' in logged[0] and "bbox_format='xywh'" in logged[0]
    assert len(estimator(bgr, [[60, 50, 30, 40]], bbox_format='xywh')) == 1


def test_boxes_are_read_as_corners_against_a_hand_computed_crop(estimator, bgr):
    """x1, y1, x2, y2 = 10, 20, 70, 100: centre (40, 60), size 60 x 80, x1.25 -> 75 x 100 (aspect 0.75, as the
    96 x 128 input). The UDP crop maps x to (96 - 1) / 75 * (x - 40 + 75 / 2), y to (128 - 1) / 100 * (y - 60 + 50)."""
    center, scale = np.array([40., 60.], np.float32), np.array([75., 100.], np.float32)
    warp = np.array([[95 / 75, 0, 95 / 75 * (37.5 - 40)], [0, 127 / 100, 127 / 100 * (50 - 60)]], np.float32)
    crop = cv2.warpAffine(bgr, warp, (96, 128), flags=cv2.INTER_LINEAR)
    model = estimator.pose_model
    packed = PackPoseInputs()(dict(img=crop, input_size=(96, 128), input_center=center, input_scale=scale,
                                   bbox=np.array([[10, 20, 70, 100]], np.float32), bbox_score=np.ones(1, np.float32)))
    with torch.no_grad():
        expected = model.test_step(dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']]))
    expected = expected[0].pred_instances.keypoints[0]
    got = _kpts(estimator, bgr, bboxes=[[10, 20, 70, 100]])
    np.testing.assert_allclose(got, expected, rtol=0, atol=0.05)
    # control: what reading the numbers as x, y, w, h would give (corners 10, 20, 80, 120) is far from it
    misread = _kpts(estimator, bgr, bboxes=[[10, 20, 80, 120]])
    assert np.abs(misread - expected).max() > 5
