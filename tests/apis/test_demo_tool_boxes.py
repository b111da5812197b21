"""tools/demo.py with boxes on the command line (--bbox, --bbox-format): the same keypoints as PoseEstimator."""
import json
import re

import cv2
import numpy as np
import pytest
import torch

from conftest import load_tool
from inference_models import POSE_CONFIG, build_pose_model
from vitpose_mm.apis import PoseEstimator

demo = load_tool('demo')


@pytest.fixture(scope='module')
def pose(tmp_path_factory):
    torch.manual_seed(0)
    model = build_pose_model()
    path = str(tmp_path_factory.mktemp('ckpt') / 'pose.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return model, path


@pytest.mark.slow  # about 5 s of CPU
def test_bbox_in_both_formats_gives_the_api_keypoints(pose, tmp_path):
    model, ckpt = pose
    img = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / 'a.png'), img)
    expected = PoseEstimator(model)(img, [[10, 20, 70, 100, 0.9], [120, 60, 180, 140, 1.0]])
    for fmt, boxes in (('xyxy', ['10', '20', '70', '100', '0.9']), ('xywh', ['10', '20', '60', '80', '0.9'])):
        out = tmp_path / fmt
        demo.main([str(tmp_path / 'a.png'), '--pose-config', POSE_CONFIG, '--pose-checkpoint', ckpt,
                   '--out-dir', str(out), '--bbox-format', fmt, '--bbox', *boxes,
                   '--bbox', *(['120', '60', '180', '140'] if fmt == 'xyxy' else ['120', '60', '60', '80'])])
        records = json.loads((out / 'predictions.json').read_text())
        assert [r['bbox'] for r in records] == [[10, 20, 60, 80], [120, 60, 60, 80]]  # COCO x, y, w, h; not clipped
        assert [r['bbox_score'] for r in records] == [0.9, 1.0]
        for record, person in zip(records, expected):
            got = np.array(record['keypoints']).reshape(17, 3)[:, :2]
            np.testing.assert_allclose(got, person.keypoints, atol=1e-3)


@pytest.mark.parametrize('argv, match', [
    (['--bbox', '1', '2', '3'], r'--bbox takes 4 numbers \(\+ an optional score\), got 3'),
    (['--bbox-format', 'xywh'], '--bbox-format is the format of --bbox boxes'),
    (['--bbox', '1', '2', '3', '4', '--bbox-file', 'b.json'], 'at most one of a detector, --bbox-file and --bbox'),
    (['--bbox', '1', '2', '3', '4', '--bbox-format', 'cxcywh'], "invalid choice: 'cxcywh'"),
])
def test_bad_box_options_are_clear_errors(argv, match, capsys):
    with pytest.raises(SystemExit):
        demo.parse_args(['x.png', '--pose-config', 'c.py', '--pose-checkpoint', 'p.pth', *argv])
    err = capsys.readouterr().err
    assert re.search(match, err), err
