"""One box convention for inference and evaluation (vitpose_mm/apis/boxes.py): the same boxes, inside the image and
crossing its border, give identical keypoints through PoseEstimator (demo, tracking) and through mmpose's
CocoDataset + the model's test_step (what tools/test.py runs), both for detection results (`bbox_file`, used as
given) and for ground-truth annotations (clipped to W - 1 when read)."""
import json

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from inference_models import build_pose_model
from mmpose.datasets import CocoDataset
from vitpose_mm.apis import BoxFile, PoseEstimator

W, H = 160, 120
# x, y, w, h: inside; crossing the right and bottom border; crossing the left and top; ending exactly at W and H
BOXES_XYWH = [[20, 10, 60, 80], [120, 60, 60, 80], [-15, -5, 50, 70], [100, 20, 60, 100]]


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return build_pose_model()


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    root = tmp_path_factory.mktemp('coco')
    rng = np.random.default_rng(0)
    img = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (W, H), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(root / '000000000001.png'), img)
    kpts = [float(v) for _ in range(17) for v in (50, 50, 2)]
    ann = dict(images=[dict(id=1, file_name='000000000001.png', width=W, height=H)],
               annotations=[dict(id=i + 1, image_id=1, category_id=1, bbox=b, keypoints=kpts, num_keypoints=17,
                                 area=float(b[2] * b[3]), iscrowd=0) for i, b in enumerate(BOXES_XYWH)],
               categories=[dict(id=1, name='person')])
    (root / 'ann.json').write_text(json.dumps(ann))
    dets = [dict(image_id=1, category_id=1, bbox=b, score=0.9 - 0.1 * i) for i, b in enumerate(BOXES_XYWH)]
    (root / 'dets.json').write_text(json.dumps(dets))
    return root, img


def _evaluation_path(model, root, bbox_file=None):
    """What tools/test.py does per batch: mmpose's CocoDataset with the config's test pipeline, then test_step."""
    init_default_scope('mmpose')
    dataset = CocoDataset(data_root=str(root), ann_file='ann.json', data_prefix=dict(img=''), data_mode='topdown',
                          bbox_file=bbox_file, test_mode=True, pipeline=model.cfg.test_dataloader.dataset.pipeline)
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    with torch.no_grad():
        samples = model.test_step(batch)
    boxes = np.concatenate([s.gt_instances.bboxes for s in samples])
    return np.stack([s.pred_instances.keypoints[0] for s in samples]), boxes


@pytest.mark.slow  # an mmdet detector, about 4 s of CPU
def test_detection_boxes_give_the_same_keypoints_in_inference_and_evaluation(model, coco):
    root, img = coco
    eval_kpts, eval_boxes = _evaluation_path(model, root, bbox_file=str(root / 'dets.json'))
    people = PoseEstimator(model)(img, BoxFile(str(root / 'dets.json'))['000000000001.png'])
    assert len(people) == len(BOXES_XYWH)
    np.testing.assert_allclose(np.stack([p.keypoints for p in people]), eval_kpts, rtol=1e-6, atol=1e-4)
    # the boxes are used as given: neither path clipped them (tracking sees these boxes too)
    expected = np.array([[x, y, x + w, y + h] for x, y, w, h in BOXES_XYWH], np.float32)
    np.testing.assert_array_equal(np.stack([p.bbox for p in people]), expected)
    np.testing.assert_array_equal(eval_boxes, expected)
    # control: clipping the border-crossing box to the image (the old inference path) moves its keypoints
    clipped = PoseEstimator(model)(img, [[120, 60, W, H]])[0].keypoints
    assert np.abs(clipped - eval_kpts[1]).max() > 1


def test_ground_truth_boxes_give_the_same_keypoints_in_inference_and_evaluation(model, coco):
    root, img = coco
    eval_kpts, eval_boxes = _evaluation_path(model, root)
    boxes = BoxFile(str(root / 'ann.json'))['000000000001.png']
    np.testing.assert_array_equal(boxes[:, :4], eval_boxes)  # clipped to W - 1 and H - 1 in both
    assert boxes[:, 2].max() == W - 1 and boxes[:, 3].max() == H - 1 and boxes[:, :2].min() == 0
    people = PoseEstimator(model)(img, boxes)
    np.testing.assert_allclose(np.stack([p.keypoints for p in people]), eval_kpts, rtol=1e-6, atol=1e-4)
