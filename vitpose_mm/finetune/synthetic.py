"""A keypoint set that is not COCO's, for the fine-tuning demo: synthetic people relabelled as a 9-keypoint upper body.

:func:`relabel_coco_to_upper_body` turns COCO-17 annotations (e.g. of :func:`vitpose_mm.synthetic.generate_synthetic_coco`)
into :data:`UPPER_BODY_KEYPOINTS`, in another order and with other names than COCO's:

- ``head``: the mean of the labelled face points (nose, eyes, ears); visible when any of them is;
- ``neck``: the midpoint of the shoulders, ``pelvis``: the midpoint of the hips (labelled when both ends are,
  visible when both are);
- the six arm points are COCO's, named in CamelCase (``RightShoulder``), right side first.

Images, boxes and areas are unchanged; ``num_keypoints`` is recounted and people with fewer than 3 labelled
keypoints are dropped.
"""
import copy
from typing import Dict, List

import numpy as np

UPPER_BODY_KEYPOINTS = ('head', 'neck', 'RightShoulder', 'RightElbow', 'RightWrist', 'LeftShoulder', 'LeftElbow',
                        'LeftWrist', 'pelvis')
# 1-based, as COCO files number them
UPPER_BODY_SKELETON = [[1, 2], [2, 3], [3, 4], [4, 5], [2, 6], [6, 7], [7, 8], [2, 9]]
_ARMS = {2: 6, 3: 8, 4: 10, 5: 5, 6: 7, 7: 9}  # upper-body index -> COCO index
_FACE = (0, 1, 2, 3, 4)
_MIN_LABELLED = 3


def _midpoint(a: np.ndarray, b: np.ndarray) -> List[float]:
    if a[2] > 0 and b[2] > 0:
        return [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, min(a[2], b[2])]
    return [0., 0., 0]


def upper_body_keypoints(kpts: np.ndarray) -> np.ndarray:
    """(17, 3) COCO keypoints (x, y, v) -> (9, 3) upper-body keypoints."""
    out = np.zeros((9, 3))
    face = kpts[list(_FACE)]
    labelled = face[face[:, 2] > 0]
    if len(labelled):
        out[0] = [*labelled[:, :2].mean(axis=0), 2 if (labelled[:, 2] == 2).any() else 1]
    out[1] = _midpoint(kpts[5], kpts[6])
    out[8] = _midpoint(kpts[11], kpts[12])
    for i, j in _ARMS.items():
        out[i] = kpts[j]
    out[out[:, 2] == 0, :2] = 0
    return out


def relabel_coco_to_upper_body(coco: Dict) -> Dict:
    """A COCO person-keypoint annotation dict (17 keypoints) -> the same people with the 9 upper-body keypoints.

    Raises:
        ValueError: an annotation without 17 keypoints.
    """
    out = copy.deepcopy(coco)
    annotations = []
    for ann in out['annotations']:
        kpts = np.asarray(ann['keypoints'], dtype=float).reshape(-1, 3)
        if kpts.shape[0] != 17:
            raise ValueError(f'annotation {ann["id"]} has {kpts.shape[0]} keypoints, expected COCO\'s 17')
        new = upper_body_keypoints(kpts)
        labelled = int((new[:, 2] > 0).sum())
        if labelled < _MIN_LABELLED:
            continue
        ann['keypoints'] = [round(float(v), 2) if i % 3 < 2 else int(v) for i, v in enumerate(new.reshape(-1))]
        ann['num_keypoints'] = labelled
        annotations.append(ann)
    out['annotations'] = annotations
    out['categories'] = [dict(out['categories'][0], keypoints=list(UPPER_BODY_KEYPOINTS),
                              skeleton=UPPER_BODY_SKELETON)]
    return out


__all__ = ['relabel_coco_to_upper_body', 'upper_body_keypoints', 'UPPER_BODY_KEYPOINTS', 'UPPER_BODY_SKELETON']
