"""Drawing people on images with mmpose's ``PoseLocalVisualizer``."""
from typing import List

import cv2
import numpy as np
from mmengine.structures import InstanceData
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
        keypoint_scores=np.stack([p.keypoint_scores for p in people]),
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
