"""A bottom-up config in tools/demo.py (an image and a video, no boxes) and in mmpose's own MMPoseInferencer."""
import json

import cv2
import numpy as np
import pytest

from bottomup_models import BU_CONFIG, save_bottomup_checkpoint
from conftest import load_tool
from vitpose_mm.apis import PoseEstimator

demo = load_tool('demo')


@pytest.fixture(scope='module')
def ckpt(tmp_path_factory):
    return save_bottomup_checkpoint(str(tmp_path_factory.mktemp('bu') / 'bu.pth'))


def image(h=120, w=150, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_demo_on_an_image_without_boxes(ckpt, tmp_path):
    cv2.imwrite(str(tmp_path / 'scene.png'), image())
    summary = demo.main([str(tmp_path / 'scene.png'), '--pose-config', BU_CONFIG, '--pose-checkpoint', ckpt,
                         '--out-dir', str(tmp_path / 'out'), '--person-thr=-inf'])
    records = json.load(open(tmp_path / 'out' / 'predictions.json'))
    want = PoseEstimator.from_config(BU_CONFIG, ckpt, person_thr=float('-inf'))(str(tmp_path / 'scene.png'))
    assert summary['images'] == 1 and summary['people'] == len(records) == len(want) > 0
    np.testing.assert_allclose(np.array(records[0]['keypoints']).reshape(17, 3)[:, :2], want[0].keypoints,
                               atol=1e-3)
    assert (tmp_path / 'out' / 'vis' / 'scene.png').is_file()


@pytest.mark.parametrize('option', [['--bbox', '0', '0', '20', '20'], ['--bbox-file', 'boxes.json'],
                                    ['--det-config', 'det.py', '--det-checkpoint', 'det.pth']])
def test_demo_refuses_box_options_for_a_bottom_up_config(ckpt, tmp_path, option):
    cv2.imwrite(str(tmp_path / 'scene.png'), image())
    with pytest.raises(SystemExit, match=option[0]):
        demo.main([str(tmp_path / 'scene.png'), '--pose-config', BU_CONFIG, '--pose-checkpoint', ckpt,
                   '--out-dir', str(tmp_path / 'out')] + option)


def test_demo_on_a_video_tracks_and_smooths(ckpt, tmp_path):
    path = str(tmp_path / 'clip.avi')
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 10, (96, 80))
    for i in range(4):
        writer.write(image(80, 96, seed=0))  # the same frame: the same people, who keep their ids
    writer.release()
    summary = demo.main([path, '--pose-config', BU_CONFIG, '--pose-checkpoint', ckpt, '--out-dir',
                         str(tmp_path / 'out'), '--person-thr=-inf', '--smooth'])
    records = json.load(open(tmp_path / 'out' / 'clip.json'))
    per_frame = summary['people'] // summary['frames']
    assert summary['frames'] == 4 and per_frame > 0 and summary['tracks'] == per_frame
    assert sorted({r['track_id'] for r in records}) == list(range(per_frame))


def test_mmpose_inferencer_runs_a_bottom_up_config(ckpt):
    """mmpose's own inferencer reads data_mode='bottomup' from the config: no detector, every person of the image,
    as mmpose's inference_bottomup gives them with the same model."""
    import torch
    from mmpose.apis import MMPoseInferencer, inference_bottomup
    inferencer = MMPoseInferencer(pose2d=BU_CONFIG, pose2d_weights=ckpt, device='cpu')
    model = inferencer.inferencer.model
    weights = torch.load(ckpt, weights_only=True)['state_dict']
    assert torch.equal(model.state_dict()['head.heatmap_conv_layers.2.weight'],
                       weights['head.heatmap_conv_layers.2.weight'])
    img = image()
    people = next(inferencer(img, return_vis=False))['predictions'][0]
    want = inference_bottomup(model, img)[0].pred_instances
    assert len(people) == len(want.keypoints) > 0
    np.testing.assert_allclose([p['keypoints'] for p in people], want.keypoints, atol=1e-3)
