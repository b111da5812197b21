"""Keeping people's ids across video frames, and smoothing their keypoints over time.

``IoUTracker`` reuses mmpose's greedy IoU matching (``mmpose.apis._track_by_iou``, the helper behind mmpose's
pose-lifting inferencer); ``KeypointSmoother`` is a One Euro filter per person (Casiez, Roussel and Vogel,
"1 Euro Filter", CHI 2012), which mmpose 1.x no longer ships.
"""
import math
from typing import Dict, List, Optional

import numpy as np
from mmengine.structures import InstanceData
from mmpose.apis import _track_by_iou
from mmpose.structures import PoseDataSample


class IoUTracker:
    """Gives each person the id of the best-overlapping person of the previous frame, or a new id.

    Matching is greedy, in the order people are given (highest box score first when they come from
    ``PoseEstimator``); a person whose best IoU with the unmatched people of the previous frame is not above
    ``iou_thr`` starts a new track. Only the previous frame is remembered, so memory does not grow with the video.

    Args:
        iou_thr: the IoU a box must exceed to continue a track.
    """

    def __init__(self, iou_thr: float = 0.3):
        self.iou_thr = iou_thr
        self.next_id = 0
        self._last: List[PoseDataSample] = []

    def reset(self) -> None:
        self.next_id = 0
        self._last = []

    def update(self, boxes: np.ndarray) -> List[int]:
        """Track ids for this frame's ``(N, >=4)`` xyxy boxes."""
        last = list(self._last)  # _track_by_iou removes matched entries from the list it is given
        current, ids = [], []
        for box in np.asarray(boxes, dtype=np.float32):
            sample = PoseDataSample(pred_instances=InstanceData(bboxes=box[None, :4]))
            track_id, last, _ = _track_by_iou(sample, last, self.iou_thr)
            if track_id == -1:
                track_id, self.next_id = self.next_id, self.next_id + 1
            sample.set_field(track_id, 'track_id')
            current.append(sample)
            ids.append(int(track_id))
        self._last = current
        return ids


class OneEuroFilter:
    """The One Euro filter on an array signal: an exponential smoother whose cut-off frequency rises with speed.

    Slow motion (jitter) is smoothed with ``min_cutoff`` Hz; fast motion raises the cut-off by ``beta`` per unit of
    speed (pixels per second for keypoints), so the filter lags little when people move.

    Args:
        min_cutoff: cut-off frequency (Hz) at rest; lower is smoother.
        beta: how fast the cut-off rises with speed; higher lags less.
        d_cutoff: cut-off frequency (Hz) of the speed estimate.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: Optional[np.ndarray] = None
        self._dx: Optional[np.ndarray] = None

    @staticmethod
    def _alpha(cutoff, dt: float):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, dt: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x, self._dx = x, np.zeros_like(x)
            return x.copy()
        a_d = self._alpha(self.d_cutoff, dt)
        self._dx = a_d * (x - self._x) / dt + (1 - a_d) * self._dx
        a = self._alpha(self.min_cutoff + self.beta * np.abs(self._dx), dt)
        self._x = a * x + (1 - a) * self._x
        return self._x.copy()


class KeypointSmoother:
    """One ``OneEuroFilter`` per track id over that person's ``(K, 2)`` keypoints.

    Filters of ids absent from a frame are dropped (``IoUTracker`` never revives an id), so memory stays bounded.

    Args:
        fps: frames per second of the video (the filter works in seconds).
        min_cutoff, beta, d_cutoff: see ``OneEuroFilter``.
    """

    def __init__(self, fps: float = 30.0, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0):
        if fps <= 0:
            raise ValueError(f'fps must be positive, got {fps}')
        self.dt = 1.0 / fps
        self._kwargs = dict(min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff)
        self._filters: Dict[int, OneEuroFilter] = {}

    def __call__(self, track_ids: List[int], keypoints: List[np.ndarray]) -> List[np.ndarray]:
        """Smoothed copies of each person's keypoints, in the order given."""
        out = []
        for tid, kpts in zip(track_ids, keypoints):
            f = self._filters.setdefault(tid, OneEuroFilter(**self._kwargs))
            out.append(f(kpts, self.dt).astype(np.float32))
        self._filters = {tid: self._filters[tid] for tid in track_ids}
        return out
