"""The demo loop (``run_images``, ``run_video``) without a model: a scripted estimator gives known people, a scripted
capture gives known frames, frame rates and decode failures, and a recording writer keeps the frames written. Pinned:
the files, the drawings (pixel for pixel, tests/drawn_people.py), the frame rate, the records, the counts, the
progress bars and the warnings."""
import json
import logging
import math

import cv2
import numpy as np
import pytest
import torch.nn as nn

from drawn_people import BOX, COCO_META, H, KEYPOINTS, SCORES, W, expected_drawing
from vitpose_mm.apis import demo_runner
from vitpose_mm.apis.boxes import as_boxes
from vitpose_mm.apis.demo_runner import DemoError, DemoOptions, run_images, run_video
from vitpose_mm.apis.inference import Person, PoseEstimator
from vitpose_mm.apis.tracking import KeypointSmoother

BOX_XYWH = [BOX[0], BOX[1], BOX[2] - BOX[0], BOX[3] - BOX[1]]


class ScriptedEstimator(PoseEstimator):
    """A ``PoseEstimator`` without a model (its box selection is the real one): one person per box (the whole image
    without boxes) with the keypoints and scores of tests/drawn_people.py moved ``step`` px right per call, at most
    ``counts[i]`` people in call i (cycled). Records each call's image shape and boxes."""

    def __init__(self, step: float = 0.0, counts=None):
        model = nn.Module()
        model.dataset_meta = COCO_META
        super().__init__(model)
        self.step, self.counts, self.calls = step, counts, []

    def __call__(self, img, bboxes=None):
        h, w = img.shape[:2]
        boxes = as_boxes(bboxes) if bboxes is not None else np.array([[0, 0, w, h, 1]], np.float32)
        if self.counts is not None:
            boxes = boxes[:self.counts[len(self.calls) % len(self.counts)]]
        shift = np.array([self.step * len(self.calls), 0], np.float32)
        self.calls.append((img.shape, None if bboxes is None else np.asarray(bboxes).copy()))
        return [Person(KEYPOINTS + shift, SCORES.copy(), box[:4].copy(), float(box[4])) for box in boxes]


def assert_boxes(estimator, expected):
    """The boxes (x1, y1, x2, y2, score) the estimator got in each call."""
    assert len(estimator.calls) == len(expected)
    for (_, got), boxes in zip(estimator.calls, expected):
        np.testing.assert_allclose(got, np.array(boxes, np.float32).reshape(-1, 5))


BAD = None  # a frame that does not decode


class ScriptedCapture:
    """``cv2.VideoCapture`` of a scripted video: ``frames`` (arrays, or BAD), then the end (reads fail for ever);
    ``fps`` and ``count`` are what the header says."""

    def __init__(self, frames, fps=10.0, count=None):
        self.frames, self.props = list(frames), {cv2.CAP_PROP_FPS: fps,
                                                 cv2.CAP_PROP_FRAME_COUNT: len(frames) if count is None else count}
        self.reads = 0

    def isOpened(self):
        return True

    def get(self, prop):
        return self.props[prop]

    def read(self):
        frame = self.frames[self.reads] if self.reads < len(self.frames) else BAD
        self.reads += 1
        return (False, None) if frame is BAD else (True, frame.copy())

    def release(self):
        pass


class RecordingWriter:
    """``cv2.VideoWriter`` that keeps what it is given; the last one made is ``RecordingWriter.last``."""
    last = None

    def __init__(self, path, fourcc, fps, size):
        self.path, self.fourcc, self.fps, self.size, self.frames = path, fourcc, fps, size, []
        RecordingWriter.last = self

    def isOpened(self):
        return True

    def write(self, frame):
        self.frames.append(frame.copy())

    def release(self):
        pass


@pytest.fixture
def video(monkeypatch):
    """``video(frames, fps, count)``: the capture run_video opens; the writer records."""
    def make(frames, fps=10.0, count=None):
        capture = ScriptedCapture(frames, fps, count)
        monkeypatch.setattr(cv2, 'VideoCapture', lambda path: capture)
        return capture
    monkeypatch.setattr(cv2, 'VideoWriter', RecordingWriter)
    RecordingWriter.last = None
    return make


def black(h=H, w=W):
    return np.zeros((h, w, 3), np.uint8)


DRAWING = dict(kpt_thr=0.6, radius=6, thickness=5, draw_bbox=True)  # none of them the defaults


def test_images_are_drawn_and_recorded_with_the_given_options(tmp_path):
    """vis/<name> is the promised drawing with the options' threshold, radius, width and box; predictions.json the
    COCO records of the people of the given boxes; a second run into the same folder overwrites."""
    for name in ('a.png', 'b.png'):
        cv2.imwrite(str(tmp_path / name), black())
    paths = [str(tmp_path / 'a.png'), str(tmp_path / 'b.png')]
    out = tmp_path / 'out'
    for _ in range(2):
        estimator = ScriptedEstimator()
        options = DemoOptions(out_dir=str(out), bbox=[BOX_XYWH + [0.9]], bbox_format='xywh', **DRAWING)
        summary = run_images(paths, estimator, options)
        assert summary == dict(images=2, skipped=[], people=2,
                               outputs=[str(out / 'vis'), str(out / 'predictions.json')])
    assert_boxes(estimator, [[list(BOX) + [0.9]]] * 2)
    for name in ('a.png', 'b.png'):
        np.testing.assert_array_equal(cv2.imread(str(out / 'vis' / name)), expected_drawing(**DRAWING))
    records = json.loads((out / 'predictions.json').read_text())
    assert [(r['file_name'], r['image_id'], r['bbox'], r['bbox_score']) for r in records] == \
        [('a.png', 0, BOX_XYWH, 0.9), ('b.png', 1, BOX_XYWH, 0.9)]


def test_progress_bars_count_images_and_frames(tmp_path, capsys, video):
    """The bar's label and total: 'images' over the paths, 'frames' over the header's frame count."""
    pytest.importorskip('tqdm', reason='the bars are tqdm\'s when it is installed (mmdet needs it)')
    cv2.imwrite(str(tmp_path / 'a.png'), black(8, 8))
    run_images([str(tmp_path / 'a.png')] * 2, ScriptedEstimator(), DemoOptions(out_dir=str(tmp_path / 'i')))
    bar = capsys.readouterr().err.split('\r')[-1]
    assert bar.startswith('images: 100%') and '| 2/2 [' in bar and ('img/s' in bar or 's/img' in bar)
    video([black(8, 8)] * 3)
    run_video('v.mp4', ScriptedEstimator(), DemoOptions(out_dir=str(tmp_path / 'v')))
    bar = capsys.readouterr().err.split('\r')[-1]
    assert bar.startswith('frames: 100%') and '| 3/3 [' in bar and ('frame/s' in bar or 's/frame' in bar)


def test_box_file_images_without_an_entry_are_counted_in_one_warning(tmp_path, monkeypatch):
    """Boxes come from the box file through the estimator's selection (score above its bbox_thr); the images the
    file does not list have no people, and one warning counts them; the boxes dropped are counted by reason."""
    logged = []
    monkeypatch.setattr(demo_runner, 'print_log', lambda *args, **kwargs: logged.append((args, kwargs)))
    box_path = tmp_path / 'boxes.json'
    box_path.write_text(json.dumps([dict(image_id=7, bbox=BOX_XYWH, score=0.9, category_id=1),
                                    dict(image_id=7, bbox=[0, 0, 50, 50], score=0.2, category_id=1)]))
    names = ['000000000007.png', '000000000008.png', '000000000009.png']
    for name in names:
        cv2.imwrite(str(tmp_path / name), black())
    estimator = ScriptedEstimator()
    summary = run_images([str(tmp_path / n) for n in names], estimator, DemoOptions(out_dir=str(tmp_path / 'out')),
                         demo_runner.BoxFile(str(box_path)))
    assert summary['people'] == 1
    assert_boxes(estimator, [[list(BOX) + [0.9]], np.zeros((0, 5)), np.zeros((0, 5))])
    warnings = [(args, kwargs) for args, kwargs in logged if logging.WARNING in args]
    assert len(warnings) == 1 and warnings[0][0][1:] == ('current', logging.WARNING)
    assert '2 image(s)' in warnings[0][0][0] and str(box_path) in warnings[0][0][0]
    assert summary['boxes'].describe() == 'kept 1 of 2 boxes: 1 below score 0.3'


def test_video_is_drawn_at_its_frame_rate_with_the_given_boxes_and_options(tmp_path, video):
    """<name>.mp4 (mp4v, the input's fps, its size) holds each frame drawn as promised (the track id's corner
    aside); <name>.json one record per frame; the boxes of the options, in their format, reach the estimator; the
    output folder may exist already."""
    video([black()] * 3, fps=12.5)
    estimator = ScriptedEstimator()
    options = DemoOptions(out_dir=str(tmp_path), bbox=[BOX_XYWH + [0.9]], bbox_format='xywh', **DRAWING)
    summary = run_video('/somewhere/walk.avi', estimator, options)
    assert summary == dict(frames=3, bad_frames=[], people=3, tracks=1,
                           outputs=[str(tmp_path / 'walk.mp4'), str(tmp_path / 'walk.json')])
    assert [shape for shape, _ in estimator.calls] == [(H, W, 3)] * 3
    assert_boxes(estimator, [[list(BOX) + [0.9]]] * 3)
    writer = RecordingWriter.last
    assert (writer.path, writer.fourcc, writer.fps, writer.size) == \
        (str(tmp_path / 'walk.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), 12.5, (W, H))
    assert len(writer.frames) == 3
    expected = expected_drawing(**DRAWING)
    for frame in writer.frames:
        np.testing.assert_array_equal(frame[25:], expected[25:])  # below the track id, drawn at the box's corner
        np.testing.assert_array_equal(frame[:, 25:], expected[:, 25:])
        assert (frame[:25, :25] != expected[:25, :25]).any()  # the track id is there
    records = json.loads((tmp_path / 'walk.json').read_text())
    assert [(r['frame_id'], r['track_id'], r['bbox']) for r in records] == [(i, 0, BOX_XYWH) for i in range(3)]


@pytest.mark.parametrize('header_fps, fps', [(10.0, 10.0), (0.5, 0.5), (0.0, 25.0), (-1.0, 25.0), (math.nan, 25.0)])
def test_video_frame_rate_falls_back_to_25_when_the_header_has_none(tmp_path, video, header_fps, fps):
    """The header's frame rate (even under 1 fps), or 25 when it is 0, negative or NaN."""
    video([black(8, 8)], fps=header_fps)
    run_video('v.mp4', ScriptedEstimator(), DemoOptions(out_dir=str(tmp_path)))
    assert RecordingWriter.last.fps == fps


@pytest.mark.parametrize('smooth', [False, True])
def test_video_keypoints_are_smoothed_only_when_asked_at_the_videos_frame_rate(tmp_path, video, smooth):
    """Moving keypoints: the records hold them as estimated, or One Euro filtered per track at the header's fps."""
    video([black()] * 3, fps=10.0)
    run_video('v.mp4', ScriptedEstimator(step=10.0), DemoOptions(out_dir=str(tmp_path), smooth=smooth))
    got = [np.array(r['keypoints']).reshape(17, 3)[:, :2] for r in json.loads((tmp_path / 'v.json').read_text())]
    raw = [KEYPOINTS + [10.0 * i, 0] for i in range(3)]
    expected = raw
    if smooth:
        smoother = KeypointSmoother(10.0)
        expected = [smoother([0], [k])[0] for k in raw]
        assert np.abs(expected[2] - raw[2]).max() > 1  # the filter lags: the test can tell
    np.testing.assert_allclose(got, expected, atol=1e-3)


def test_video_people_are_counted_over_all_frames(tmp_path, video):
    """2, 0 and 1 people in three frames: 3 people, 3 records."""
    video([black()] * 3)
    options = DemoOptions(out_dir=str(tmp_path), bbox=[list(BOX), [60, 10, 110, 90]])
    summary = run_video('v.mp4', ScriptedEstimator(counts=[2, 0, 1]), options)
    assert summary['people'] == 3 == len(json.loads((tmp_path / 'v.json').read_text()))


def test_video_frames_of_another_size_are_resized_to_the_first(tmp_path, video):
    """The writer's size is the first frame's; a later frame of another size is resized to it, not dropped."""
    small, large = black(24, 32), np.full((48, 64, 3), 200, np.uint8)
    video([small, large, small])
    summary = run_video('v.mp4', ScriptedEstimator(), DemoOptions(out_dir=str(tmp_path)))
    writer = RecordingWriter.last
    assert summary['frames'] == 3 and writer.size == (32, 24)
    assert [f.shape for f in writer.frames] == [(24, 32, 3)] * 3
    assert (writer.frames[1][20:, 28:] == 200).all()  # the large frame, scaled down (its text corner aside)


def frames_and_bad_ids(script):
    """The scripted video of ``script`` ('g': a frame, 'b': undecodable) and the ids of its undecodable frames."""
    frames = [black(8, 8) if c == 'g' else BAD for c in script]
    return frames, [i for i, c in enumerate(script) if c == 'b']


@pytest.mark.parametrize('script', ['g' + 'b' * 25 + 'g' + 'b' * 25 + 'g', 'b' * 25 + 'gg'])
def test_video_goes_on_past_25_undecodable_frames_in_a_row(tmp_path, video, script):
    """Up to 25 undecodable frames in a row are skipped, each written as the previous output frame (none before the
    first decoded one), and the count starts again after each decoded frame."""
    frames, bad = frames_and_bad_ids(script)
    video(frames)
    summary = run_video('v.mp4', ScriptedEstimator(), DemoOptions(out_dir=str(tmp_path)))
    assert summary['frames'] == script.count('g') and summary['bad_frames'] == bad
    assert len(RecordingWriter.last.frames) == len(script) - script.index('g')


def test_video_stops_after_26_undecodable_frames_when_the_header_promises_more(tmp_path, video):
    """A header that overstates the frame count: reading stops at the 26th failed read in a row."""
    video([black(8, 8)] * 2, count=1000)
    summary = run_video('v.mp4', ScriptedEstimator(), DemoOptions(out_dir=str(tmp_path)))
    assert summary['frames'] == 2 and summary['bad_frames'] == list(range(2, 27))
    assert len(RecordingWriter.last.frames) == 27


def test_video_without_a_decodable_frame_is_an_error(tmp_path, video):
    video([BAD] * 3)
    with pytest.raises(DemoError, match='v.mp4'):
        run_video('v.mp4', ScriptedEstimator(), DemoOptions(out_dir=str(tmp_path)))
