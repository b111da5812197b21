"""The inference API (vitpose_mm.apis) on a random tiny ViTPose and a real mmdet detector (RTMDet-nano)."""
import json
import math

import cv2
import numpy as np
import pytest
import torch

from inference_models import build_detector, build_pose_model, make_confident
from vitpose_mm.apis import (BoxFile, IoUTracker, KeypointSmoother, Person, PoseEstimator, drop_degenerate_boxes,
                             load_image)
from vitpose_mm.apis.boxes import as_boxes


@pytest.fixture(scope='module')
def pose_model():
    torch.manual_seed(0)
    return build_pose_model()


@pytest.fixture(scope='module')
def detector():
    torch.manual_seed(0)
    return make_confident(build_detector())


@pytest.fixture
def img():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)


def test_all_boxes_of_an_image_go_through_the_backbone_as_one_batch(pose_model, img):
    batches = []
    hook = pose_model.backbone.register_forward_hook(lambda m, args, out: batches.append(args[0].shape[0]))
    try:
        people = PoseEstimator(pose_model)(img, [[0, 0, 60, 100, 0.9], [50, 10, 150, 110, 0.8], [10, 5, 40, 60, 0.7]])
    finally:
        hook.remove()
    flip_test = pose_model.test_cfg.get('flip_test', False)
    assert batches == [3] * (2 if flip_test else 1)  # the crops (then their flipped copies, with flip test)
    assert len(people) == 3
    assert [p.bbox_score for p in people] == pytest.approx([0.9, 0.8, 0.7])
    for p in people:
        assert p.keypoints.shape == (17, 2) and p.keypoint_scores.shape == (17, ) and p.bbox.shape == (4, )
        assert p.keypoints.dtype == np.float32 and p.track_id is None


def test_without_detector_the_whole_image_is_one_person(pose_model, img):
    people = PoseEstimator(pose_model)(img)
    assert len(people) == 1
    np.testing.assert_array_equal(people[0].bbox, [0, 0, 160, 120])
    assert people[0].bbox_score == 1.0


def test_boxes_are_kept_as_given_and_degenerate_ones_dropped(pose_model, img):
    estimator = PoseEstimator(pose_model)
    boxes = [[-20, -10, 50, 200],  # partly outside: kept as it is (the box convention of apis/boxes.py)
             [30, 30, 30, 90],  # zero width
             [90, 80, 40, 20],  # inverted
             [170, 0, 200, 50],  # right of the image
             [10, 10, 10.5, 50],  # under a pixel wide
             [np.nan, 0, 50, 50]]
    people = estimator(img, boxes)
    assert len(people) == 1 and estimator.num_dropped_boxes == 5
    assert people[0].bbox_score == 1.0  # boxes without a score
    np.testing.assert_array_equal(people[0].bbox, [-20, -10, 50, 200])
    kept, dropped, inverted = drop_degenerate_boxes(as_boxes(boxes), (120, 160), min_size=0.25)
    assert len(kept) == 2 and dropped == 4 and inverted == 1  # a looser minimum keeps the sliver


def test_no_people_is_an_empty_result(pose_model, detector, img):
    assert PoseEstimator(pose_model)(img, np.zeros((0, 4))) == []
    assert PoseEstimator(pose_model)(img, [[200, 200, 300, 300]]) == []  # all outside
    assert PoseEstimator(pose_model, detector, bbox_thr=0.99)(img) == []  # detector scores are sigmoid(3) = 0.95
    assert PoseEstimator(pose_model, detector, det_cat_id=1)(img) == []  # a person-only detector: no label 1


@pytest.mark.slow  # an mmdet detector, about 6 s of CPU
def test_real_mmdet_detector_boxes_are_selected_and_estimated(pose_model, detector, img):
    from mmdet.apis import inference_detector
    from mmpose.evaluation.functional import nms

    raw = inference_detector(detector, img).pred_instances.cpu().numpy()
    # RTMDet pads the 160x120 image (x2: 320x240) to 320x320 and clips its boxes to the padded shape only
    assert (raw.bboxes[:, 3] > 120).any()
    estimator = PoseEstimator(pose_model, detector, bbox_thr=0.3, nms_thr=0.3)
    boxes = estimator.detect(img)
    assert 1 < len(boxes) < len(raw)  # NMS at 0.3 thins mmdet's own NMS (0.6)
    assert (boxes[:, 4] > 0.3).all()
    raw_boxes = np.concatenate([raw.bboxes, raw.scores[:, None]], axis=1)
    for box in boxes:  # each one a detector box as it came (not clipped), as mmpose's own demo uses them
        assert np.any(np.all(raw_boxes == box, axis=1))
    assert (boxes[:, 3] > 120).any()
    assert len(nms(boxes, 0.3)) == len(boxes)
    people = estimator(img)
    assert len(people) == len(boxes)
    for p, box in zip(people, boxes):
        np.testing.assert_array_equal(p.bbox, box[:4])
        assert p.keypoints.shape == (17, 2) and p.bbox_score == pytest.approx(1 / (1 + np.exp(-3.0)))


@pytest.mark.slow  # about 5 s of CPU
def test_grayscale_and_rgba_images_give_the_bgr_result(pose_model, img, tmp_path):
    estimator = PoseEstimator(pose_model)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    ref = estimator(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))[0].keypoints
    bgra = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    bgra[..., 3] = 7
    for variant in (gray, gray[:, :, None]):
        np.testing.assert_allclose(estimator(variant)[0].keypoints, ref)
    np.testing.assert_allclose(estimator(bgra)[0].keypoints, estimator(img)[0].keypoints)
    cv2.imwrite(str(tmp_path / 'gray.png'), gray)
    cv2.imwrite(str(tmp_path / 'rgba.png'), bgra)
    np.testing.assert_allclose(estimator(str(tmp_path / 'gray.png'))[0].keypoints, ref)
    np.testing.assert_allclose(estimator(str(tmp_path / 'rgba.png'))[0].keypoints, estimator(img)[0].keypoints)
    assert load_image((gray.astype(np.uint16) * 257)).shape == (120, 160, 3)


def test_unreadable_images_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        load_image(str(tmp_path / 'missing.jpg'))
    (tmp_path / 'bad.jpg').write_bytes(b'\xff\xd8 not really a jpeg')
    with pytest.raises(ValueError, match='bad.jpg'):
        load_image(str(tmp_path / 'bad.jpg'))
    with pytest.raises(ValueError, match='shape'):
        load_image(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match='uint8'):
        load_image(np.zeros((4, 4, 3), np.float32))


def test_pose_checkpoint_is_loaded_strictly(pose_model, tmp_path):
    state = {k: v for k, v in pose_model.state_dict().items() if not k.startswith('head.final_layer')}
    torch.save({'state_dict': state}, tmp_path / 'partial.pth')
    with pytest.raises(RuntimeError, match='final_layer'):
        PoseEstimator.from_config('td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96.py', str(tmp_path / 'partial.pth'))
    torch.save({'state_dict': pose_model.state_dict(), 'meta': {'dataset_meta': {'dataset_name': 'mine'}}},
               tmp_path / 'full.pth')
    loaded = PoseEstimator.from_config('td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96', str(tmp_path / 'full.pth'))
    assert loaded.dataset_meta == {'dataset_name': 'mine'}  # the checkpoint's meta wins, as in mmpose's init_model
    for a, b in zip(loaded.pose_model.state_dict().values(), pose_model.state_dict().values()):
        assert torch.equal(a, b)


def test_boxes_are_float32_xyxy_with_a_score_in_every_form():
    """as_boxes: (N, 5) float32 x1, y1, x2, y2, score from lists, one box, xywh, or none at all."""
    cases = [([[1, 2, 3, 4]], [[1, 2, 3, 4, 1]]), ([1, 2, 3, 4, 0.5], [[1, 2, 3, 4, 0.5]]),
             (np.array([[1, 2, 3, 4]], np.float64), [[1, 2, 3, 4, 1]]), ([], np.zeros((0, 5)))]
    for given, want in cases:
        got = as_boxes(given)
        assert got.dtype == np.float32 and got.shape == np.asarray(want).reshape(-1, 5).shape
        np.testing.assert_array_equal(got, np.asarray(want, np.float32).reshape(-1, 5))
    xywh = as_boxes([[10, 20, 30, 40, 0.7]], 'xywh')
    assert xywh.dtype == np.float32 and xywh.tolist() == [[10, 20, 40, 60, np.float32(0.7)]]
    assert as_boxes([[1, 2, 3, 4]], default_score=0.25)[0, 4] == 0.25


def test_box_selection_defaults(pose_model):
    """PoseEstimator's defaults: a box score must exceed 0.3, boxes under 1 px are dropped, NMS at IoU 0.3."""
    est = PoseEstimator(pose_model)
    boxes = np.array([[0, 0, 10, 10, 0.9],       # kept
                      [4, 0, 14, 10, 0.8],       # overlaps the first by IoU 0.47: suppressed
                      [30, 0, 40, 10, 0.7],      # kept
                      [37, 30, 47, 40, 0.6],     # IoU 0 with the others: kept
                      [60, 60, 70, 70, 0.3],     # score not above 0.3: dropped
                      [60, 80, 70, 90, 0.31],    # kept
                      [80, 80, 80.9, 90, 0.9],   # 0.9 px wide: dropped
                      [90, 80, 91, 90, 0.9]],    # 1 px wide: kept
                     np.float32)
    kept = est.select_boxes(boxes, (100, 100))
    assert sorted(kept[:, 0].tolist()) == [0, 30, 37, 60, 90]
    near = np.array([[0, 0, 10, 10, 0.9], [7, 0, 17, 10, 0.8]], np.float32)  # IoU 0.22: both kept
    assert len(est.select_boxes(near, (100, 100))) == 2


def test_person_as_coco_result():
    scores = np.array([0.1] * 7 + [0.5] * 9 + [0.8], np.float32)
    p = Person(keypoints=np.arange(34, dtype=np.float32).reshape(17, 2), keypoint_scores=scores,
               bbox=np.array([10, 20, 50, 100], np.float32), bbox_score=0.8, track_id=3)
    # CocoMetric's rescoring: box score x mean of the keypoint scores above 0.2 = 0.8 x 0.53
    assert p.score() == pytest.approx(0.8 * (0.5 * 9 + 0.8) / 10)
    rec = p.to_coco(image_id=785)
    assert set(rec) == {'image_id', 'category_id', 'keypoints', 'score', 'bbox', 'bbox_score', 'track_id'}
    assert rec['category_id'] == 1 and rec['track_id'] == 3 and rec['bbox'] == [10, 20, 40, 80]
    assert len(rec['keypoints']) == 51 and rec['keypoints'][:6] == [0, 1, 0.1, 2, 3, 0.1]
    assert Person(p.keypoints, np.zeros(17, np.float32), p.bbox, 1.0).score() == 0.0
    json.dumps(rec)
    # a score equal to the threshold is left out, as CocoMetric's `kpt_score > keypoint_score_thr`
    at = Person(p.keypoints, np.array([0.2] * 16 + [0.6], np.float32), p.bbox, 1.0)
    assert at.score() == pytest.approx(0.6)
    # rounding of the written record: keypoints to 1e-3 px, boxes to 1e-2 px, scores to 1e-5
    fine = Person(np.full((17, 2), 1.234567, np.float32), np.full(17, 0.7654321, np.float32),
                  np.array([1.23456, 2.34567, 50.98765, 80.55555], np.float32), 0.87654321)
    rec = fine.to_coco(image_id=1)
    assert rec['keypoints'][:3] == [1.235, 1.235, 0.765] and len(rec['keypoints']) == 51
    assert rec['bbox'] == [1.23, 2.35, 49.75, 78.21]
    assert rec['score'] == round(0.87654321 * float(np.float32(0.7654321)), 5) == 0.67093
    assert rec['bbox_score'] == 0.87654


def test_box_file_by_image_id_and_by_file_name(tmp_path):
    results = [dict(image_id=785, category_id=1, bbox=[10, 20, 30, 40], score=0.9),
               dict(image_id=785, category_id=2, bbox=[0, 0, 5, 5], score=0.9),  # not a person
               dict(file_name='a/walk.png', category_id=1, bbox=[1, 2, 3, 4], score=0.5)]
    (tmp_path / 'dets.json').write_text(json.dumps(results))
    boxes = BoxFile(str(tmp_path / 'dets.json'))
    np.testing.assert_allclose(boxes['/data/000000000785.jpg'], [[10, 20, 40, 60, 0.9]])
    np.testing.assert_allclose(boxes['walk.png'], [[1, 2, 4, 6, 0.5]])
    assert '000000000785.jpg' in boxes and 'other.jpg' not in boxes and boxes['other.jpg'].shape == (0, 5)
    coco = dict(images=[dict(id=7, file_name='x.jpg')], annotations=[dict(image_id=7, category_id=1, bbox=[0, 0, 9, 9])])
    (tmp_path / 'gt.json').write_text(json.dumps(coco))
    np.testing.assert_allclose(BoxFile(str(tmp_path / 'gt.json'))['x.jpg'], [[0, 0, 9, 9, 1]])


def test_ground_truth_boxes_are_clipped_to_the_last_pixel():
    """mmpose's CocoDataset clips a ground-truth box to [0, W - 1] x [0, H - 1] (pixel indices, not the image size):
    a box crossing every border of a 40 x 30 image becomes exactly [0, 0, 39, 29]; one inside is kept as it is."""
    from vitpose_mm.apis.boxes import clip_ground_truth_box
    assert clip_ground_truth_box(-5, -3, 60, 50, 40, 30) == [0, 0, 39, 29]
    assert clip_ground_truth_box(2.5, 3, 10, 12, 40, 30) == [2.5, 3, 12.5, 15]
    assert clip_ground_truth_box(-9, -9, 4, 5, 40, 30) == [0, 0, 0, 0]  # wholly outside: a degenerate box
    assert clip_ground_truth_box(45, 35, 4, 5, 40, 30) == [39, 29, 39, 29]


def test_box_file_of_ground_truth_clips_scores_and_filters(tmp_path):
    """A COCO annotation file: boxes clipped where the image entry has a size (only then), score 1 unless given,
    other categories and categoryless records as the file's category."""
    coco = dict(images=[dict(id=1, file_name='a.jpg', width=40, height=30), dict(id=2, file_name='b.jpg'),
                        dict(id=3, file_name='c.jpg', width=40)],
                annotations=[dict(image_id=1, category_id=1, bbox=[-5, -3, 60, 50]),
                             dict(image_id=1, category_id=1, bbox=[1, 1, 5, 5, 99], score=0.25),
                             dict(image_id=1, category_id=3, bbox=[0, 0, 5, 5]),
                             dict(image_id=2, bbox=[-5, -3, 60, 50]),
                             dict(image_id=3, category_id=1, bbox=[-5, -3, 60, 50])])
    (tmp_path / 'gt.json').write_text(json.dumps(coco))
    boxes = BoxFile(str(tmp_path / 'gt.json'))
    assert boxes.path == str(tmp_path / 'gt.json')
    np.testing.assert_allclose(boxes['a.jpg'], [[0, 0, 39, 29, 1], [1, 1, 6, 6, 0.25]])
    np.testing.assert_allclose(boxes['b.jpg'], [[-5, -3, 55, 47, 1]])  # no size: nothing to clip to
    np.testing.assert_allclose(boxes['c.jpg'], [[-5, -3, 55, 47, 1]])  # half a size: not clipped either
    detections = [dict(image_id=4, category_id=1, bbox=[-5, -3, 60, 50])]  # detections: never clipped, score 1
    (tmp_path / 'dets.json').write_text(json.dumps(detections))
    np.testing.assert_allclose(BoxFile(str(tmp_path / 'dets.json'))['000004.jpg'], [[-5, -3, 55, 47, 1]])
    no_images = dict(annotations=[dict(image_id=5, category_id=1, bbox=[1, 2, 3, 4])])
    (tmp_path / 'ann.json').write_text(json.dumps(no_images))
    np.testing.assert_allclose(BoxFile(str(tmp_path / 'ann.json'))['5.jpg'], [[1, 2, 4, 6, 1]])


def test_iou_tracker_follows_boxes_in_any_order():
    tracker = IoUTracker(iou_thr=0.3)
    a, b, c = [0, 0, 10, 20], [50, 0, 60, 20], [100, 0, 110, 20]
    assert tracker.update(np.array([a, b])) == [0, 1]
    assert tracker.update(np.array([[51, 1, 61, 21], [1, 0, 11, 20]])) == [1, 0]  # moved a little, order swapped
    assert tracker.update(np.array([b, c, a])) == [1, 2, 0]  # c is new
    assert tracker.update(np.array([b])) == [1]
    assert tracker.update(np.array([a])) == [3]  # only the previous frame is remembered
    assert tracker.update(np.zeros((0, 4))) == []


def _one_euro_reference(xs, rate, min_cutoff, beta, d_cutoff):
    """The 1 Euro filter of one scalar signal as Casiez, Roussel and Vogel (CHI 2012) write it, step by step."""
    te = 1.0 / rate

    def alpha(cutoff):
        return 1.0 / (1.0 + (1.0 / (2 * math.pi * cutoff)) / te)
    out, prev, dprev = [xs[0]], xs[0], 0.0
    for x in xs[1:]:
        dx = alpha(d_cutoff) * (x - prev) / te + (1 - alpha(d_cutoff)) * dprev
        cutoff = min_cutoff + beta * abs(dx)
        prev = alpha(cutoff) * x + (1 - alpha(cutoff)) * prev
        dprev = dx
        out.append(prev)
    return out


def test_keypoint_smoother_is_the_one_euro_filter():
    """Every coordinate against the paper's filter, with a speed term that matters (beta > 0, fast moves)."""
    rng = np.random.default_rng(3)
    frames = np.cumsum(rng.normal(0, 6, (12, 3, 2)), axis=0) + 200  # a random walk, some steps fast
    frames[6:] += 40  # and a jump
    smoother = KeypointSmoother(fps=20, min_cutoff=0.7, beta=0.3, d_cutoff=1.7)
    got = np.array([smoother([4], [f])[0] for f in frames])
    want = np.zeros_like(got)
    for k in range(3):
        for c in range(2):
            want[:, k, c] = _one_euro_reference(list(frames[:, k, c]), 20, 0.7, 0.3, 1.7)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-3)
    assert np.abs(got[1:] - frames[1:]).max() > 1  # smoothed, not passed through
    no_speed = KeypointSmoother(fps=20, min_cutoff=0.7, beta=0.0, d_cutoff=1.7)
    slow = np.array([no_speed([4], [f])[0] for f in frames])
    assert np.abs(slow - got).max() > 1  # beta changes the result: the speed term is in use


@pytest.mark.parametrize('fps', [0, -5])
def test_keypoint_smoother_refuses_non_positive_fps(fps):
    with pytest.raises(ValueError, match=f'fps.*{fps}'):
        KeypointSmoother(fps=fps)
    assert KeypointSmoother(fps=0.5).dt == 2.0


def test_keypoint_smoother_damps_jitter_and_follows_steps():
    smoother = KeypointSmoother(fps=25, min_cutoff=1.0, beta=0.0)
    rng = np.random.default_rng(0)
    truth = np.full((17, 2), 100.0)
    noisy = [truth + rng.normal(0, 2, truth.shape) for _ in range(50)]
    out = [smoother([0], [x])[0] for x in noisy]
    np.testing.assert_array_equal(out[0], noisy[0].astype(np.float32))  # the first frame passes as it is
    assert np.std(np.array(out[10:]) - truth) < 0.4 * np.std(np.array(noisy[10:]) - truth)
    # a new id starts its own filter; ids absent from a frame are forgotten
    assert np.allclose(smoother([0, 5], [truth, truth + 50])[1], truth + 50)
    assert list(smoother._filters) == [0, 5]
    smoother([5], [truth + 50])
    assert list(smoother._filters) == [5]


def test_box_selection_reads_xywh_and_the_estimators_minimum_size(pose_model):
    """select_boxes converts xywh boxes, drops boxes under the estimator's own min_box_size (3 px here, not the
    1 px default), and num_dropped_boxes adds up over calls."""
    est = PoseEstimator(pose_model, min_box_size=3)
    xywh = [[10, 20, 30, 40, 0.9], [60, 20, 2, 40, 0.9]]  # 30 x 40, and 2 px wide
    np.testing.assert_array_equal(est.select_boxes(xywh, (100, 100), 'xywh'),
                                  np.array([[10, 20, 40, 60, 0.9]], np.float32))
    assert est.num_dropped_boxes == 1
    kept = est.select_boxes([[0, 0, 2.5, 50, 0.9], [50, 0, 53, 50, 0.9]], (100, 100))  # 2.5 and 3 px wide
    assert kept[:, 0].tolist() == [50] and est.num_dropped_boxes == 2


def test_xywh_hint_only_for_inverted_xyxy_boxes(pose_model, monkeypatch):
    """A dropped inverted box given as xyxy (detector or caller) gets the hint to pass bbox_format='xywh'; a box
    dropped for another reason, or inverted though already given as xywh, gets the plain message."""
    from vitpose_mm.apis import inference
    logged = []
    monkeypatch.setattr(inference, 'print_log', lambda msg, *args, **kwargs: logged.append(msg))
    est = PoseEstimator(pose_model)
    est.select_boxes([[60, 50, 30, 40, 0.9]], (90, 120))  # inverted xyxy
    est.select_boxes([[30, 30, 30, 80, 0.9]], (90, 120))  # zero width, not inverted
    est.select_boxes([[60, 50, -30, 40, 0.9]], (90, 120), 'xywh')  # inverted, but xywh already
    assert len(logged) == 3
    assert "bbox_format='xywh'" in logged[0] and '1 of them' in logged[0]
    for plain in logged[1:]:
        assert 'bbox_format' not in plain and '1 degenerate' in plain and '120x90' in plain


@pytest.mark.slow  # an mmdet detector, about 4 s of CPU
def test_detector_gets_rgb_arrays_as_bgr(pose_model, detector, img, monkeypatch):
    """detect(img, channel_order='rgb') hands mmdet the BGR image (what its pipeline expects)."""
    import mmdet.apis
    seen = []
    run = mmdet.apis.inference_detector
    monkeypatch.setattr(mmdet.apis, 'inference_detector',
                        lambda model, image: seen.append(image) or run(model, image))
    est = PoseEstimator(pose_model, detector)
    est.detect(np.ascontiguousarray(img[..., ::-1]), channel_order='rgb')
    est.detect(img)
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[0], img)
    np.testing.assert_array_equal(seen[1], img)
