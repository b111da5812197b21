"""Drawing people on images with mmpose's ``PoseLocalVisualizer``: one image, or a test run's predictions tiled.

mmpose's visualizer compares ``kpt_thr`` with ``keypoints_visible`` and never reads ``keypoint_scores`` (its
``TopdownPoseEstimator`` copies the scores into ``keypoints_visible``); without that field every keypoint is drawn, so
both functions here give the scores as ``keypoints_visible``.
"""
import math
import os.path as osp
from collections import defaultdict
from typing import List, Tuple

import cv2
import numpy as np
from mmengine.fileio import load
from mmengine.structures import InstanceData
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.structures import PoseDataSample
from mmpose.visualization import PoseLocalVisualizer

from .inference import Person


def build_visualizer(dataset_meta: dict, radius: int = 3, line_width: int = 2) -> PoseLocalVisualizer:
    """A visualizer that draws the skeleton and colours of ``dataset_meta`` (e.g. ``PoseEstimator.dataset_meta``)."""
    visualizer = PoseLocalVisualizer(radius=radius, line_width=line_width)
    visualizer.set_dataset_meta(dataset_meta)
    return visualizer


def draw_people(visualizer: PoseLocalVisualizer, img: np.ndarray, people: List[Person], kpt_thr: float = 0.3,
                draw_bbox: bool = False) -> np.ndarray:
    """A BGR copy of ``img`` (BGR) with each person's skeleton, box (optional) and track id (when set)."""
    if not people:
        return img.copy()
    sample = PoseDataSample(pred_instances=InstanceData(
        keypoints=np.stack([p.keypoints for p in people]),
        keypoints_visible=np.stack([p.keypoint_scores for p in people]),
        bboxes=np.stack([p.bbox for p in people])))
    drawn = visualizer.add_datasample('people', img[:, :, ::-1], sample, draw_gt=False, draw_bbox=draw_bbox,
                                      kpt_thr=kpt_thr, show=False)
    drawn = np.ascontiguousarray(drawn[:, :, ::-1])
    for p in people:
        if p.track_id is not None:
            x, y = int(p.bbox[0]) + 2, max(int(p.bbox[1]) + 14, 14)
            cv2.putText(drawn, str(p.track_id), (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 2)
            cv2.putText(drawn, str(p.track_id), (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    return drawn


def draw_predictions(predictions: str, out: str, num: int = 6, kpt_thr: float = 0.3,
                     metainfo: str = 'configs/_base_/datasets/coco.py') -> Tuple[int, int]:
    """Draw the predicted skeletons of a test run on its first ``num`` images (sorted by path), all people of an
    image together, tile the images 3 per row (white background) and write the picture to ``out``.

    Args:
        predictions: .pkl written by ``tools/test.py --out`` (a list of dicts with ``img_path`` and
            ``pred_instances``: ``keypoints`` (N, K, 2) in image pixels, ``keypoint_scores`` (N, K)).
        out: output image (.jpg or .png).
        num: number of images to draw.
        kpt_thr: keypoints with a lower score are not drawn.
        metainfo: mmpose dataset meta file for the skeleton and colours.

    Returns:
        (people drawn, images drawn).

    Raises:
        FileNotFoundError: ``predictions`` is missing; ValueError: it is not a list of pose predictions, or an
        image cannot be read.
    """
    if not osp.isfile(predictions):
        raise FileNotFoundError(f'predictions not found: {predictions}')
    results = load(predictions)
    if not (isinstance(results, list) and results and isinstance(results[0], dict)
            and 'pred_instances' in results[0]):
        raise ValueError(f'{predictions} is not a list of pose predictions (tools/test.py --out)')
    per_image = defaultdict(list)
    for r in results:
        per_image[r['img_path']].append(r['pred_instances'])
    visualizer = PoseLocalVisualizer(radius=3, line_width=2)
    visualizer.set_dataset_meta(parse_pose_metainfo(dict(from_file=metainfo)))
    tiles = []
    for img_path in sorted(per_image)[:num]:
        img = cv2.imread(img_path)
        if img is None:
            raise ValueError(f'cannot read image {img_path}')
        instances = InstanceData(
            keypoints=np.concatenate([np.asarray(p['keypoints']) for p in per_image[img_path]]),
            keypoints_visible=np.concatenate([np.asarray(p['keypoint_scores']) for p in per_image[img_path]]))
        sample = PoseDataSample(pred_instances=instances)
        drawn = visualizer.add_datasample(
            'pred', img[:, :, ::-1], sample, draw_gt=False, draw_bbox=False, kpt_thr=kpt_thr, show=False)
        tiles.append(drawn[:, :, ::-1])
    h = max(t.shape[0] for t in tiles)
    w = max(t.shape[1] for t in tiles)
    cols = min(3, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    canvas = np.full((rows * h, cols * w, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        canvas[r * h:r * h + t.shape[0], c * w:c * w + t.shape[1]] = t
    cv2.imwrite(out, canvas)
    return sum(len(per_image[p]) for p in sorted(per_image)[:num]), len(tiles)
