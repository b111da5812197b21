"""Person boxes before pose estimation: one convention for every path, box formats, and COCO box files.

Boxes here are ``(N, 5)`` float32 arrays ``x1, y1, x2, y2, score`` in image pixels.

The convention (the same in ``PoseEstimator``, ``tools/demo.py``, tracking and ``tools/test.py``): a person box goes
to the pose model **exactly as given** (detector output, box file, caller), never clipped; a box is only dropped
when it is degenerate (see ``drop_degenerate_boxes``). Ground-truth boxes read from a COCO annotation file are
clipped to ``[0, W - 1] x [0, H - 1]`` when they are read. This is what mmpose's ``CocoDataset`` does in evaluation
(detection results of a ``bbox_file`` unclipped, annotations clipped to W - 1 in ``parse_data_info``), and the
official ViTPose code before it: the protocol behind the published numbers, which is why inference follows it.
"""
import json
import os.path as osp
from collections import defaultdict
from typing import Dict, Optional, Tuple

import numpy as np
from mmengine.logging import print_log

from vitpose_mm.datasets.box_file import COCO_PERSON_ID, BoxCounts, CatIds, as_cat_ids, describe_cat_ids
BBOX_FORMATS = ('xyxy', 'xywh')


def as_boxes(boxes, bbox_format: str = 'xyxy', default_score: float = 1.0) -> np.ndarray:
    """``(N, 4)`` or ``(N, 5)`` boxes (+ score) -> ``(N, 5)`` float32 x1, y1, x2, y2, score.

    Args:
        boxes: array-like of shape (N, 4) or (N, 5) (or one box of 4 or 5 numbers).
        bbox_format: ``'xyxy'`` (corners x1, y1, x2, y2; mmpose's and mmdet's) or ``'xywh'`` (top-left corner,
            width and height; COCO's and HF's).
        default_score: the score of boxes given without one.

    Raises:
        ValueError: another ``bbox_format`` or shape.
    """
    if bbox_format not in BBOX_FORMATS:
        raise ValueError(f'bbox_format must be one of {list(BBOX_FORMATS)}, got {bbox_format!r}')
    try:
        boxes = np.array(boxes, dtype=np.float32)
    except ValueError as e:  # rows of different lengths, or not numbers
        raise ValueError(f'boxes must be (N, 4) {bbox_format} or (N, 5) {bbox_format} + score numbers, all rows of '
                         f'one length: {e}') from e
    if boxes.size == 0:
        return np.zeros((0, 5), np.float32)
    boxes = boxes.reshape(-1, boxes.shape[-1])
    if boxes.shape[1] == 4:
        boxes = np.concatenate([boxes, np.full((len(boxes), 1), default_score, np.float32)], axis=1)
    if boxes.shape[1] != 5:
        raise ValueError(f'boxes must be (N, 4) {bbox_format} or (N, 5) {bbox_format} + score, got shape '
                         f'{boxes.shape}')
    if bbox_format == 'xywh':
        boxes[:, 2:4] += boxes[:, 0:2]
    return boxes


def drop_degenerate_boxes(boxes: np.ndarray, img_shape: Tuple[int, int],
                          min_size: float = 1.0) -> Tuple[np.ndarray, int, int]:
    """Drop the ``(N, 5)`` boxes that cannot hold a person; the kept ones are returned unchanged (not clipped).

    A box is degenerate when a coordinate or its score is not finite, or when its part inside the image
    (``[0, W] x [0, H]``) is narrower or lower than ``min_size`` pixels (outside the image, inverted, or too small).

    Returns:
        The kept boxes, the number dropped, and how many of those were inverted (x2 < x1 or y2 < y1: often an
        x, y, w, h box read as x1, y1, x2, y2).
    """
    boxes = as_boxes(boxes)
    h, w = img_shape[:2]
    finite = np.isfinite(boxes).all(axis=1)
    boxes = boxes[finite]
    inside_w = np.minimum(boxes[:, 2], w) - np.maximum(boxes[:, 0], 0)
    inside_h = np.minimum(boxes[:, 3], h) - np.maximum(boxes[:, 1], 0)
    keep = (inside_w >= min_size) & (inside_h >= min_size)
    inverted = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    return boxes[keep], int((~finite).sum() + (~keep).sum()), int((inverted & ~keep).sum())


def clip_ground_truth_box(x: float, y: float, bw: float, bh: float, width: int, height: int) -> list:
    """A COCO annotation's x, y, w, h box as mmpose's ``CocoDataset.parse_data_info`` reads it: corners clipped to
    ``[0, width - 1] x [0, height - 1]``."""
    return [min(max(x, 0), width - 1), min(max(y, 0), height - 1),
            min(max(x + bw, 0), width - 1), min(max(y + bh, 0), height - 1)]


class BoxFile:
    """Boxes read from a COCO-format file, looked up by image file name.

    Accepts either a detection results list (``[{"image_id", "bbox": [x, y, w, h], "score", "category_id"}]``,
    e.g. ``COCO_val2017_detections_AP_H_56_person.json``; a record may carry ``file_name`` instead of or beside
    ``image_id``) or a COCO annotation file (``{"images": [...], "annotations": [...]}``, ground-truth boxes with
    score 1, clipped to ``[0, W - 1] x [0, H - 1]`` as mmpose's ``CocoDataset`` clips them when the image entry
    has ``width`` and ``height``). Detection results are kept as they are. Only records of the categories
    ``cat_ids`` are kept (a record without ``category_id`` always is; default 1, COCO's person, what mmpose's ``bbox_file`` loading keeps; None keeps every
    category, e.g. every species of an AP-10K file); the others are counted (:attr:`counts`, and per image
    :meth:`num_other_category`) and the count is logged. An image is found by its file name, else by its id: the
    file name's number (``000000000785.jpg`` is 785, the COCO convention) or the ``images`` entry of the annotation
    file.

    Args:
        path: the JSON file.
        cat_ids: the ``category_id`` (or ids) to keep; None or ``'all'``: every category.

    Raises:
        ValueError: not a COCO list or annotation dict, a record without ``image_id`` or ``file_name``, a bad
            ``cat_ids``.
    """

    def __init__(self, path: str, cat_ids: CatIds = COCO_PERSON_ID):
        self.cat_ids = as_cat_ids(cat_ids)
        with open(path) as f:
            data = json.load(f)
        names: Dict[int, str] = {}
        sizes: Dict[int, Tuple[int, int]] = {}
        if isinstance(data, dict):
            if 'annotations' not in data:
                raise ValueError(f'{path}: a dict must be a COCO annotation file with "annotations"')
            names = {img['id']: img['file_name'] for img in data.get('images', [])}
            sizes = {img['id']: (img['width'], img['height']) for img in data.get('images', [])
                     if 'width' in img and 'height' in img}
            records = data['annotations']  # ground truth: score 1 unless a record gives one (below)
        elif isinstance(data, list):
            records = data
        else:
            raise ValueError(f'{path}: expected a list of detections or a COCO annotation dict')
        self._by_name: Dict[str, list] = defaultdict(list)
        self._by_id: Dict[int, list] = defaultdict(list)
        self._other_by_name: Dict[str, int] = defaultdict(int)
        self._other_by_id: Dict[int, int] = defaultdict(int)
        self.counts = BoxCounts(total=len(records))
        for r in records:
            name = r.get('file_name') or names.get(r.get('image_id'))
            if name is None and 'image_id' not in r:
                raise ValueError(f'{path}: a record has neither "image_id" nor "file_name": {r}')
            if self.cat_ids is not None and 'category_id' in r and r['category_id'] not in self.cat_ids:
                self.counts.other_category += 1
                if name is not None:
                    self._other_by_name[osp.basename(name)] += 1
                else:
                    self._other_by_id[int(r['image_id'])] += 1
                continue
            x, y, bw, bh = (float(v) for v in r['bbox'][:4])
            size = sizes.get(r.get('image_id'))
            corners = clip_ground_truth_box(x, y, bw, bh, *size) if size else [x, y, x + bw, y + bh]
            box = corners + [float(r.get('score', 1.0))]
            if name is not None:
                self._by_name[osp.basename(name)].append(box)
            else:
                self._by_id[int(r['image_id'])].append(box)
        self.path = path
        print_log(f'{path}: {self.counts.describe()} ({describe_cat_ids(self.cat_ids)})', 'current')

    def num_other_category(self, img_path: str) -> int:
        """How many records of the image ``img_path`` were of other categories than ``cat_ids`` (not kept)."""
        return self._other_by_name.get(osp.basename(img_path)) or self._other_by_id.get(self.image_id(img_path)) or 0

    def image_id(self, img_path: str) -> Optional[int]:
        """The COCO image id of a file: the number its name is made of, or None."""
        stem = osp.splitext(osp.basename(img_path))[0]
        return int(stem) if stem.isdigit() else None

    def __contains__(self, img_path: str) -> bool:
        return osp.basename(img_path) in self._by_name or self.image_id(img_path) in self._by_id

    def __getitem__(self, img_path: str) -> np.ndarray:
        """The ``(N, 5)`` boxes of an image (none when the file lists none for it)."""
        boxes = self._by_name.get(osp.basename(img_path)) or self._by_id.get(self.image_id(img_path)) or []
        return as_boxes(boxes)
