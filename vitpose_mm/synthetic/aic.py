"""A second synthetic keypoint definition: synthetic people labelled the AI Challenger way (14 keypoints).

The multi-dataset demo (docs/vitpose_plus.md) needs two datasets whose keypoints are defined differently, as COCO's
and AIC's are. :func:`relabel_coco_to_aic` turns the COCO-17 annotations of :func:`generate_synthetic_coco` into
AIC's 14 keypoints in AIC's order (mmpose ``configs/_base_/datasets/aic.py``):

- the twelve limb points are COCO's, reordered (AIC lists the right side first);
- ``neck`` (13) is the midpoint of the two shoulders, labelled when both are, visible when both are;
- ``head_top`` (12) has no COCO counterpart: from the mean ``c`` of the labelled eyes and ears and the neck ``n`` it
  is ``c + 0.7 (c - n)``, about the crown of the drawn head; labelled when ``c`` and ``n`` are, visible when any
  eye or ear is, and dropped (v=0) when it falls outside the image;
- the face points (nose, eyes, ears) are not AIC keypoints and are dropped.

Images and boxes are unchanged; ``num_keypoints`` is recounted, people left with fewer than 3 labelled keypoints are
removed.
"""
import copy
from typing import Dict, List

import numpy as np

# AIC index -> COCO index for the twelve limb keypoints
AIC_FROM_COCO = (6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15)
AIC_KEYPOINTS = ('right_shoulder', 'right_elbow', 'right_wrist', 'left_shoulder', 'left_elbow', 'left_wrist',
                 'right_hip', 'right_knee', 'right_ankle', 'left_hip', 'left_knee', 'left_ankle', 'head_top', 'neck')
# AIC's 1-based skeleton (mmpose aic.py's links)
AIC_SKELETON = [[3, 2], [2, 1], [1, 14], [14, 4], [4, 5], [5, 6], [9, 8], [8, 7], [7, 10], [10, 11], [11, 12],
                [13, 14], [1, 7], [4, 10]]
HEAD_TOP_REACH = 0.7
_FACE = (1, 2, 3, 4)  # eyes and ears
_MIN_LABELLED = 3


def _aic_keypoints(kpts: np.ndarray, width: int, height: int) -> np.ndarray:
    """(17, 3) COCO keypoints (x, y, v) -> (14, 3) AIC keypoints."""
    out = np.zeros((14, 3))
    out[:12] = kpts[list(AIC_FROM_COCO)]
    ls, rs = kpts[5], kpts[6]
    if ls[2] > 0 and rs[2] > 0:
        out[13] = [(ls[0] + rs[0]) / 2, (ls[1] + rs[1]) / 2, min(ls[2], rs[2])]
    face = kpts[list(_FACE)]
    labelled = face[face[:, 2] > 0]
    if len(labelled) and out[13, 2] > 0:
        c = labelled[:, :2].mean(axis=0)
        top = c + HEAD_TOP_REACH * (c - out[13, :2])
        if 0 <= top[0] < width and 0 <= top[1] < height:
            out[12] = [top[0], top[1], 2 if (face[:, 2] == 2).any() else 1]
    out[out[:, 2] == 0, :2] = 0
    return out


def relabel_coco_to_aic(coco: Dict) -> Dict:
    """A COCO person-keypoint annotation dict (17 keypoints) -> the same people with AIC's 14 keypoints."""
    out = copy.deepcopy(coco)
    sizes = {img['id']: (img['width'], img['height']) for img in coco['images']}
    annotations: List[Dict] = []
    for ann in out['annotations']:
        kpts = np.asarray(ann['keypoints'], dtype=float).reshape(-1, 3)
        if kpts.shape[0] != 17:
            raise ValueError(f'annotation {ann["id"]} has {kpts.shape[0]} keypoints, expected COCO\'s 17')
        aic = _aic_keypoints(kpts, *sizes[ann['image_id']])
        labelled = int((aic[:, 2] > 0).sum())
        if labelled < _MIN_LABELLED:
            continue
        ann['keypoints'] = [round(float(v), 2) if i % 3 < 2 else int(v) for i, v in enumerate(aic.reshape(-1))]
        ann['num_keypoints'] = labelled
        annotations.append(ann)
    out['annotations'] = annotations
    out['categories'] = [dict(out['categories'][0], keypoints=list(AIC_KEYPOINTS), skeleton=AIC_SKELETON)]
    return out


__all__ = ['relabel_coco_to_aic', 'AIC_KEYPOINTS', 'AIC_FROM_COCO']
