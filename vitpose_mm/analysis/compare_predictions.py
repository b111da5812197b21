"""How far the keypoints of two prediction dumps (``tools/test.py --out``) are apart: a fast path against fp32."""
import pickle
from typing import Dict, List

import numpy as np


def _keypoints(samples: List[dict]) -> Dict[tuple, np.ndarray]:
    out = {}
    for s in samples:
        key = (s.get('img_id'), s.get('id'), tuple(np.round(np.asarray(s.get('gt_instances', {}).get('bboxes',
                                                                                                       [[0]]))[0], 2)))
        out[key] = np.asarray(s['pred_instances']['keypoints'], np.float64)
    return out


def keypoint_displacement(path_a: str, path_b: str) -> dict:
    """Distances (image pixels) between the same keypoints in two ``.pkl`` prediction dumps of the same data: mean,
    median, 99th percentile, max and the count.

    Raises:
        ValueError: the dumps hold different samples.
    """
    with open(path_a, 'rb') as f:
        a = _keypoints(pickle.load(f))
    with open(path_b, 'rb') as f:
        b = _keypoints(pickle.load(f))
    if a.keys() != b.keys():
        raise ValueError(f'{path_a} and {path_b} hold different samples ({len(a)} vs {len(b)}); compare dumps of the '
                         'same config and data')
    d = np.concatenate([np.linalg.norm(a[k] - b[k], axis=-1).ravel() for k in a])
    return dict(count=int(d.size), mean=float(d.mean()), median=float(np.median(d)),
                p99=float(np.percentile(d, 99)), max=float(d.max()))


__all__ = ['keypoint_displacement']
