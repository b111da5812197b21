"""One COCO person with hand-placed keypoints and the picture the drawing functions promise for it, drawn here with
OpenCV from the dataset's meta file (tests of ``vitpose_mm.apis.visualization`` and ``demo_runner``).

What is promised (docs/inference.md, ``draw_people``): the skeleton links of the dataset meta whose two keypoints
score at least ``kpt_thr``, in the link colours, ``thickness`` px wide; on top, each keypoint scoring at least
``kpt_thr`` as a filled disc of ``radius`` px in its colour; with ``draw_bbox``, the person box in green, as wide as
the links. Colours in the meta file are RGB; the pictures are BGR.
"""
import os.path as osp

import cv2
import numpy as np
from mmpose.datasets.datasets.utils import parse_pose_metainfo

from conftest import ROOT
from vitpose_mm.apis.inference import Person

COCO_META_FILE = osp.join(ROOT, 'configs', '_base_', 'datasets', 'coco.py')
COCO_META = parse_pose_metainfo(dict(from_file=COCO_META_FILE))
H, W = 100, 120
BOX = (5, 5, 115, 95)  # x1, y1, x2, y2
# nose (0) and right eye (2): link (0, 2) on row 30; left knee (13) and left ankle (15): link (13, 15) on row 70;
# left eye (1) at 0.2 is never drawn; the other keypoints score 0.1 (not drawn), spread along the bottom row.
KEYPOINTS = np.array([(10 + 6 * k, 97) for k in range(17)], np.float32)
SCORES = np.full(17, 0.1, np.float32)
for _k, _xy, _score in ((0, (40, 30), 0.9), (2, (80, 30), 0.5), (1, (60, 50), 0.2), (13, (30, 70), 0.9),
                        (15, (90, 70), 0.8)):
    KEYPOINTS[_k], SCORES[_k] = _xy, _score


def scene_person(track_id=None) -> Person:
    return Person(KEYPOINTS.copy(), SCORES.copy(), np.array(BOX, np.float32), 1.0, track_id)


def _bgr(rgb) -> tuple:
    return tuple(int(c) for c in rgb[::-1])


def expected_drawing(kpt_thr: float, radius: int, thickness: int, draw_bbox: bool = False) -> np.ndarray:
    """The promised picture of ``scene_person()`` on a black H x W image (BGR)."""
    img = np.zeros((H, W, 3), np.uint8)
    shown = SCORES >= kpt_thr
    links = [(a, b) for a, b in COCO_META['skeleton_links'] if shown[a] and shown[b]]
    assert sorted(links) == ([(0, 2), (15, 13)] if kpt_thr <= 0.5 else [(15, 13)])  # the scene is what it says
    for a, b in links:
        colour = COCO_META['skeleton_link_colors'][COCO_META['skeleton_links'].index((a, b))]
        cv2.line(img, tuple(int(v) for v in KEYPOINTS[a]), tuple(int(v) for v in KEYPOINTS[b]), _bgr(colour),
                 thickness)
    for k in np.flatnonzero(shown):
        cv2.circle(img, tuple(int(v) for v in KEYPOINTS[k]), radius, _bgr(COCO_META['keypoint_colors'][k]), -1)
    if draw_bbox:
        cv2.rectangle(img, BOX[:2], BOX[2:], (0, 255, 0), thickness)
    return img
