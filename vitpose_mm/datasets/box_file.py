# References: mmpose 1.3.2 mmpose/datasets/datasets/base/base_coco_style_dataset.py
# (BaseCocoStyleDataset._load_detection_results and filter_data).
"""Box files (COCO detection results, ``bbox_file``) that say what they keep: the categories, counted.

mmpose 1.3.2's ``BaseCocoStyleDataset._load_detection_results`` keeps only the records of ``category_id`` 1 ("remove
non-human instances"), without a word. That is COCO's person, but for an animal dataset whose detections carry the
species id (AP-10K, APT-36K) it drops every animal except species 1. This is fixed here, in one place: the datasets
below take ``bbox_cat_ids`` (the categories to keep, None: all) and log what they keep and drop (categories, the
score threshold ``filter_cfg=dict(bbox_score_thr=...)``, degenerate boxes). The inference API's ``BoxFile`` and the
demo count with :class:`BoxCounts` too.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Iterable, List, Optional, Union

import numpy as np
from mmengine.fileio import load
from mmengine.logging import MMLogger
from mmpose.datasets.datasets.animal import AP10KDataset
from mmpose.datasets.datasets.body import CocoDataset
from mmpose.registry import DATASETS
from mmpose.structures.bbox import bbox_xywh2xyxy
from xtcocotools.coco import COCO

# COCO's category id of "person"; what mmpose's datasets keep of a `bbox_file`.
COCO_PERSON_ID = 1
CatIds = Optional[Union[int, Iterable[int]]]


def as_cat_ids(cat_ids: CatIds) -> Optional[frozenset]:
    """``bbox_cat_ids`` as a set of ints; None (or ``'all'``) keeps every category.

    Raises:
        ValueError: something that is not an int, a list of ints, None or ``'all'``.
    """
    if cat_ids is None or cat_ids == 'all':
        return None
    if isinstance(cat_ids, (int, np.integer)) and not isinstance(cat_ids, bool):
        return frozenset([int(cat_ids)])
    try:
        ids = frozenset(int(c) for c in cat_ids)
    except (TypeError, ValueError) as e:
        raise ValueError(f"bbox_cat_ids must be a category id, a list of them, None or 'all', got {cat_ids!r}") \
            from e
    if not ids:
        raise ValueError('bbox_cat_ids is empty: it would keep no box (None keeps every category)')
    return ids


@dataclass
class BoxCounts:
    """Records of a box source and why some were dropped, for the log line :meth:`describe`."""
    total: int = 0
    other_category: int = 0
    below_score: int = 0
    degenerate: int = 0
    suppressed: int = 0  # by NMS (inference only; evaluation keeps overlapping boxes)
    score_thr: Optional[float] = None

    @property
    def kept(self) -> int:
        return self.total - self.other_category - self.below_score - self.degenerate - self.suppressed

    def describe(self) -> str:
        """e.g. ``kept 12 of 40 boxes: 25 below score 0.3, 3 of other categories``."""
        why = [f'{self.below_score} below score {self.score_thr:g}' if self.below_score else '',
               f'{self.other_category} of other categories' if self.other_category else '',
               f'{self.degenerate} degenerate' if self.degenerate else '',
               f'{self.suppressed} suppressed by NMS' if self.suppressed else '']
        why = [w for w in why if w]
        return f'kept {self.kept} of {self.total} boxes' + (': ' + ', '.join(why) if why else '')


def describe_cat_ids(cat_ids: Optional[frozenset]) -> str:
    return 'every category' if cat_ids is None else 'category ' + ', '.join(map(str, sorted(cat_ids)))


class BoxFileCategoriesMixin:
    """A COCO-style mmpose dataset whose ``bbox_file`` keeps the categories ``bbox_cat_ids`` (None: all) and says
    what it kept.

    Args:
        bbox_cat_ids: the ``category_id`` (or ids) of the box file's records to keep; None keeps every record
            (animal datasets: every species). mmpose 1.3.2 keeps category 1 only.
        **kwargs: the dataset's own (``bbox_file``, ``filter_cfg=dict(bbox_score_thr=...)``, ...).
    """

    def __init__(self, *args, bbox_cat_ids: CatIds = COCO_PERSON_ID, **kwargs):
        self.bbox_cat_ids = as_cat_ids(bbox_cat_ids)
        self.box_counts = BoxCounts()
        super().__init__(*args, **kwargs)

    def _load_detection_results(self) -> List[dict]:
        """mmpose 1.3.2's loader of detection results (dummy keypoints, ``bbox_xywh2xyxy``, ``img_shape`` from the
        annotation file) with ``bbox_cat_ids`` in place of its fixed category 1, and degenerate boxes (not finite,
        zero or negative width or height: no crop can be made of them) dropped and counted."""
        det_results = load(self.bbox_file)
        if not isinstance(det_results, list):
            raise ValueError(f'{self.bbox_file}: a bbox_file is a list of detection records')
        coco = COCO(self.ann_file)
        self._metainfo['CLASSES'] = coco.loadCats(coco.getCatIds())
        num_keypoints = self.metainfo['num_keypoints']
        counts = self.box_counts = BoxCounts(total=len(det_results))
        data_list = []
        for det in det_results:
            if self.bbox_cat_ids is not None and det.get('category_id') not in self.bbox_cat_ids:
                counts.other_category += 1
                continue
            xywh = np.array(det['bbox'][:4], dtype=np.float32).reshape(1, 4)
            score = np.array(det['score'], dtype=np.float32).reshape(1)
            if not (np.isfinite(xywh).all() and np.isfinite(score).all()) or (xywh[0, 2:] <= 0).any():
                counts.degenerate += 1
                continue
            img = coco.loadImgs(det['image_id'])[0]
            data_list.append(dict(
                img_id=det['image_id'], img_path=osp.join(self.data_prefix['img'], img['file_name']),
                img_shape=(img['height'], img['width']), bbox=bbox_xywh2xyxy(xywh), bbox_score=score,
                keypoints=np.zeros((1, num_keypoints, 2), dtype=np.float32),
                keypoints_visible=np.ones((1, num_keypoints), dtype=np.float32), id=len(data_list)))
        return data_list

    def filter_data(self) -> List[dict]:
        """mmpose's ``filter_data`` (``bbox_score_thr``), with what the box file kept and dropped logged."""
        data_list = super().filter_data()
        if self.bbox_file:
            self.box_counts.below_score = len(self.data_list) - len(data_list)
            self.box_counts.score_thr = (self.filter_cfg or {}).get('bbox_score_thr')
            MMLogger.get_current_instance().info(
                f'{type(self).__name__} ({self.bbox_file}, {describe_cat_ids(self.bbox_cat_ids)}): '
                f'{self.box_counts.describe()}')
        return data_list


@DATASETS.register_module()
class BoxFileCocoDataset(BoxFileCategoriesMixin, CocoDataset):
    """mmpose's ``CocoDataset`` with ``bbox_cat_ids`` (default 1, person) and its box file's counts logged."""


@DATASETS.register_module()
class BoxFileAP10KDataset(BoxFileCategoriesMixin, AP10KDataset):
    """mmpose's ``AP10KDataset`` (AP-10K, and APT-36K with its metainfo) with ``bbox_cat_ids`` (the configs give
    None: every species) and its box file's counts logged."""


__all__ = ['COCO_PERSON_ID', 'BoxCounts', 'BoxFileCategoriesMixin', 'BoxFileCocoDataset', 'BoxFileAP10KDataset',
           'as_cat_ids', 'describe_cat_ids']
