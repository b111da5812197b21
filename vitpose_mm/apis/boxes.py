"""Person boxes before pose estimation: clipping, dropping degenerate ones, and COCO box files.

Boxes here are ``(N, 5)`` float32 arrays ``x1, y1, x2, y2, score`` in image pixels.
"""
import json
import os.path as osp
from collections import defaultdict
from typing import Dict, Optional, Tuple

import numpy as np

# COCO's category id of "person"; mmpose's CocoDataset keeps exactly these records of a `bbox_file`.
COCO_PERSON_ID = 1


def as_boxes(boxes, default_score: float = 1.0) -> np.ndarray:
    """``(N, 4)`` or ``(N, 5)`` xyxy(+score) -> ``(N, 5)`` float32; a missing score is ``default_score``."""
    boxes = np.asarray(boxes, dtype=np.float32)
    if boxes.size == 0:
        return np.zeros((0, 5), np.float32)
    boxes = boxes.reshape(-1, boxes.shape[-1])
    if boxes.shape[1] == 4:
        boxes = np.concatenate([boxes, np.full((len(boxes), 1), default_score, np.float32)], axis=1)
    if boxes.shape[1] != 5:
        raise ValueError(f'boxes must be (N, 4) xyxy or (N, 5) xyxy+score, got shape {boxes.shape}')
    return boxes


def clip_boxes(boxes: np.ndarray, img_shape: Tuple[int, int], min_size: float = 1.0) -> Tuple[np.ndarray, int]:
    """Clip ``(N, 5)`` boxes to the image and drop degenerate ones.

    A box is degenerate when a coordinate or its score is not finite, or when after clipping its width or height
    is below ``min_size`` pixels (outside the image, inverted, or too small to hold a person). Returns the kept
    boxes and the number dropped.
    """
    boxes = as_boxes(boxes)
    h, w = img_shape[:2]
    finite = np.isfinite(boxes).all(axis=1)
    boxes = boxes[finite].copy()
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    keep = ((boxes[:, 2] - boxes[:, 0]) >= min_size) & ((boxes[:, 3] - boxes[:, 1]) >= min_size)
    return boxes[keep], int((~finite).sum() + (~keep).sum())


class BoxFile:
    """Person boxes read from a COCO-format file, looked up by image file name.

    Accepts either a detection results list (``[{"image_id", "bbox": [x, y, w, h], "score", "category_id"}]``,
    e.g. ``COCO_val2017_detections_AP_H_56_person.json``; a record may carry ``file_name`` instead of or beside
    ``image_id``) or a COCO annotation file (``{"images": [...], "annotations": [...]}``, ground-truth boxes with
    score 1). Records of another ``category_id`` than ``cat_id`` are ignored, as mmpose's ``bbox_file`` loading
    does. An image is found by its file name, else by its id: the file name's number (``000000000785.jpg`` is 785,
    the COCO convention) or the ``images`` entry of the annotation file.

    Args:
        path: the JSON file.
        cat_id: the category id of people in the file (COCO: 1).
    """

    def __init__(self, path: str, cat_id: int = COCO_PERSON_ID):
        with open(path) as f:
            data = json.load(f)
        names: Dict[int, str] = {}
        if isinstance(data, dict):
            if 'annotations' not in data:
                raise ValueError(f'{path}: a dict must be a COCO annotation file with "annotations"')
            names = {img['id']: img['file_name'] for img in data.get('images', [])}
            records = [dict(a, score=a.get('score', 1.0)) for a in data['annotations']]
        elif isinstance(data, list):
            records = data
        else:
            raise ValueError(f'{path}: expected a list of detections or a COCO annotation dict')
        self._by_name: Dict[str, list] = defaultdict(list)
        self._by_id: Dict[int, list] = defaultdict(list)
        for r in records:
            if r.get('category_id', cat_id) != cat_id:
                continue
            x, y, bw, bh = (float(v) for v in r['bbox'][:4])
            box = [x, y, x + bw, y + bh, float(r.get('score', 1.0))]
            name = r.get('file_name') or names.get(r.get('image_id'))
            if name is not None:
                self._by_name[osp.basename(name)].append(box)
            elif 'image_id' in r:
                self._by_id[int(r['image_id'])].append(box)
            else:
                raise ValueError(f'{path}: a record has neither "image_id" nor "file_name": {r}')
        self.path = path

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
