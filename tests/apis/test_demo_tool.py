"""tools/demo.py on images, folders and videos, with a real mmdet detector (RTMDet-nano), a box file or no detector."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from conftest import load_tool
from inference_models import POSE_CONFIG, save_detector_checkpoint, save_pose_checkpoint
from mmpose.evaluation.functional import nms

demo = load_tool('demo')

IMAGE_KEYS = {'image_id', 'file_name', 'category_id', 'keypoints', 'score', 'bbox', 'bbox_score'}
VIDEO_KEYS = {'frame_id', 'track_id', 'category_id', 'keypoints', 'score', 'bbox', 'bbox_score'}


@pytest.fixture(scope='module')
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp('ckpts')
    torch.manual_seed(0)
    return dict(pose=save_pose_checkpoint(str(root / 'pose.pth')), det=save_detector_checkpoint(str(root / 'det.pth')))


def run(ckpts, inp, out, *extra, detector=False):
    argv = [str(inp), '--pose-config', POSE_CONFIG, '--pose-checkpoint', ckpts['pose'], '--out-dir', str(out)]
    if detector:
        from inference_models import DET_CONFIG
        argv += ['--det-config', DET_CONFIG, '--det-checkpoint', ckpts['det']]
    return demo.main(argv + list(extra))


def scene(h=120, w=160, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
    cv2.rectangle(img, (60, 20), (100, 110), (30, 160, 220), -1)
    return img


def test_folder_with_a_corrupt_image_grayscale_and_rgba(ckpts, tmp_path):
    folder = tmp_path / 'imgs'
    folder.mkdir()
    cv2.imwrite(str(folder / 'b_gray.png'), cv2.cvtColor(scene(), cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / 'c_rgba.png'), cv2.cvtColor(scene(), cv2.COLOR_BGR2BGRA))
    (folder / 'a_broken.jpg').write_bytes(b'\xff\xd8\xff\xe0 truncated')
    (folder / 'notes.txt').write_text('not an image')
    summary = run(ckpts, folder, tmp_path / 'out')
    assert summary['skipped'] == [str(folder / 'a_broken.jpg')] and summary['images'] == 2
    assert sorted(os.listdir(tmp_path / 'out' / 'vis')) == ['b_gray.png', 'c_rgba.png']
    assert cv2.imread(str(tmp_path / 'out' / 'vis' / 'c_rgba.png')).shape == (120, 160, 3)
    records = json.loads((tmp_path / 'out' / 'predictions.json').read_text())
    # no detector: the whole image is one person; ids are positions in the sorted listing (names are not numbers)
    assert [(r['file_name'], r['image_id']) for r in records] == [('b_gray.png', 1), ('c_rgba.png', 2)]
    for r in records:
        assert set(r) == IMAGE_KEYS and len(r['keypoints']) == 51 and r['bbox'] == [0, 0, 160, 120]
        assert r['category_id'] == 1 and 0 <= r['score'] <= 1


def test_unreadable_single_input_is_a_clear_error(ckpts, tmp_path):
    (tmp_path / 'broken.png').write_bytes(b'\x89PNG nothing')
    with pytest.raises(SystemExit, match='broken.png'):
        run(ckpts, tmp_path / 'broken.png', tmp_path / 'out')
    with pytest.raises(SystemExit, match='nothing.jpg'):
        run(ckpts, tmp_path / 'nothing.jpg', tmp_path / 'out')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(SystemExit, match='empty'):
        run(ckpts, tmp_path / 'empty', tmp_path / 'out')


@pytest.mark.slow  # an mmdet detector, about 6 s of CPU
def test_image_with_an_mmdet_detector(ckpts, tmp_path):
    cv2.imwrite(str(tmp_path / '000000000042.jpg'), scene())
    summary = run(ckpts, tmp_path / '000000000042.jpg', tmp_path / 'out', '--draw-bbox', detector=True)
    records = json.loads((tmp_path / 'out' / 'predictions.json').read_text())
    assert summary['people'] == len(records) > 1
    assert {r['image_id'] for r in records} == {42}  # the COCO file name's number
    boxes = np.array([r['bbox'][:2] + [r['bbox'][0] + r['bbox'][2], r['bbox'][1] + r['bbox'][3], r['bbox_score']]
                      for r in records])
    # the detector's boxes as it gave them, not clipped (apis/boxes.py); RTMDet clips only to its padded input
    assert np.isfinite(boxes).all() and (boxes[:, 3] > 120.01).any()
    assert len(nms(boxes, 0.3)) == len(boxes)
    assert cv2.imread(str(tmp_path / 'out' / 'vis' / '000000000042.jpg')).shape == (120, 160, 3)


def write_video(path, frames, corrupt=None):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10, frames[0].shape[1::-1])
    for f in frames:
        writer.write(f)
    writer.release()
    if corrupt is not None:  # blank out the body of one frame's JPEG: ffmpeg cannot decode it
        data = bytearray(path.read_bytes())
        starts = [i for i in range(len(data) - 2) if data[i:i + 3] == b'\xff\xd8\xff']
        data[starts[corrupt] + 3:starts[corrupt + 1] - 64] = bytes(starts[corrupt + 1] - 64 - starts[corrupt] - 3)
        path.write_bytes(bytes(data))


@pytest.mark.slow  # about 18 s of CPU
def test_video_streams_with_stable_track_ids_past_a_corrupt_frame(ckpts, tmp_path):
    write_video(tmp_path / 'walk.avi', [scene()] * 6, corrupt=2)
    summary = run(ckpts, tmp_path / 'walk.avi', tmp_path / 'out', '--smooth', detector=True)
    assert summary['bad_frames'] == [2] and summary['frames'] == 5
    records = json.loads((tmp_path / 'out' / 'walk.json').read_text())
    assert all(set(r) == VIDEO_KEYS and len(r['keypoints']) == 51 for r in records)
    per_frame = {}
    for r in records:
        per_frame.setdefault(r['frame_id'], {})[r['track_id']] = r['bbox']
    assert sorted(per_frame) == [0, 1, 3, 4, 5]
    # a static scene: the same people with the same ids and boxes in every frame
    first = per_frame[0]
    assert len(first) > 1 and summary['tracks'] == len(first)
    assert all(people == first for people in per_frame.values())
    assert summary['people'] == len(records) == 5 * len(first)  # counted over every decoded frame
    cap = cv2.VideoCapture(str(tmp_path / 'out' / 'walk.mp4'))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6  # the bad frame's place is kept (previous frame repeated)
    ok, frame = cap.read()
    assert ok and frame.shape == (120, 160, 3)


@pytest.mark.slow  # about 5 s of CPU
def test_bbox_file_on_the_coco_samples(ckpts, samples_dir, tmp_path):
    coco = osp.join(samples_dir, 'coco')
    folder = tmp_path / 'imgs'
    folder.mkdir()
    for name in sorted(os.listdir(coco)):
        if name.endswith('.jpg'):
            os.symlink(osp.join(coco, name), folder / name)
    (folder / '000000000001.jpg').write_bytes(b'broken')  # skipped, not in the box file either
    summary = run(ckpts, folder, tmp_path / 'out', '--bbox-file', osp.join(coco, 'test_coco_det_AP_H_56.json'),
                  '--bbox-thr', '0.5')
    records = json.loads((tmp_path / 'out' / 'predictions.json').read_text())
    # 18 detections score above 0.5 on the 4 images; NMS at 0.3 merges two of 000000197388.jpg
    assert summary['images'] == 4 and len(records) == summary["people"] == 17
    assert {r['image_id'] for r in records} == {785, 40083, 196141, 197388}
    assert all(r['bbox_score'] > 0.5 for r in records)


@pytest.mark.slow
def test_mim_run_demo(ckpts, tmp_path):
    """`mim run vitpose_mm demo` runs the installed package's .mim/tools/demo.py (`make setup` installs it)."""
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    if not osp.isfile(mim):
        pytest.skip(f'mim not found at {mim}')
    cv2.imwrite(str(tmp_path / 'person.jpg'), scene())
    out = subprocess.run([mim, 'run', 'vitpose_mm', 'demo', 'person.jpg', '--pose-config', POSE_CONFIG,
                          '--pose-checkpoint', ckpts['pose'], '--out-dir', 'out'],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert '1 images' in out.stdout and '0 unreadable' in out.stdout and '1 people' in out.stdout
    assert len(json.loads((tmp_path / 'out' / 'predictions.json').read_text())) == 1
