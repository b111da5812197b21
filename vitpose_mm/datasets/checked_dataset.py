"""Bad data in real datasets: skipped, counted per reason, reported; training and evaluation go on.

mmpose's COCO-style datasets already drop some annotations silently (crowd, no visible keypoint, empty box) and
stop the whole run on others (an image file that is missing or cannot be decoded raises inside a data-loader
worker). :class:`CheckedDataset` wraps any of them and makes both kinds visible, without re-implementing them.
"""
import json
import multiprocessing as mp
import os.path as osp
import random
from collections import Counter
from typing import Dict, List, Optional

import cv2
import numpy as np
from mmengine.dataset import BaseDataset, force_full_init
from mmengine.logging import MMLogger
from mmpose.registry import DATASETS

# Reasons, in the order they are checked. All but the last are found when the dataset is built (main process);
# 'unreadable image' also while training, in the data-loader workers (a shared counter). An instance with a NaN or
# infinite number is skipped under the first of its non-finite fields (NON_FINITE: data-info key -> reason).
NON_FINITE = {'bbox': 'non-finite box', 'bbox_score': 'non-finite score', 'keypoints': 'non-finite keypoint',
              'keypoints_visible': 'non-finite keypoint', 'area': 'non-finite area'}
# the same fields in a COCO annotation file
RAW_FIELDS = {'bbox': 'non-finite box', 'score': 'non-finite score', 'keypoints': 'non-finite keypoint',
              'area': 'non-finite area'}
REASONS = ('annotation without its image', 'crowd annotation', 'zero-area or negative box', 'no visible keypoint',
           *dict.fromkeys(NON_FINITE.values()), 'image file missing', 'unreadable image')
# Counted but kept: mmpose's affine transform and target weights handle them.
NOTES = ('keypoints outside the image', )


def _first_non_finite(record: dict, fields: Dict[str, str]) -> Optional[str]:
    """The reason of the first of ``fields`` (key -> reason) whose numbers in ``record`` are not all finite."""
    for key, reason in fields.items():
        value = record.get(key)
        if value is None:
            continue
        try:
            finite = np.isfinite(np.asarray(value, dtype=np.float64)).all()
        except (TypeError, ValueError):  # not numbers (e.g. a polygon list of lists): not this check's business
            continue
        if not finite:
            return reason
    return None


@DATASETS.register_module()
class CheckedDataset:
    """Wrap an mmpose top-down dataset; skip what cannot be used, count it per reason, say so.

    Args:
        dataset: the wrapped dataset's config (e.g. ``dict(type='CocoDataset', ...)``) or the dataset.
        check_images: ``'exists'`` (a file-system check per image, fast), ``'decode'`` (decode every image once when
            the dataset is built: exact, slower) or ``'none'``. Images that fail to load later, in training, are
            skipped and replaced by another random sample (and counted); in evaluation (``test_mode``) a load
            failure is an error, so evaluation sets are checked with ``'decode'`` by default.
        max_refetch: how many other samples a training item may try before giving up.

    Raises:
        ValueError: nothing of the dataset is usable (with the counts); an unknown ``check_images``.

    The counts are in :attr:`skipped` (reason -> number of instances); ``DataQualityHook`` logs them and adds them
    to the final metrics record.
    """

    def __init__(self, dataset, check_images: Optional[str] = None, max_refetch: int = 100):
        self.dataset: BaseDataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.test_mode = bool(getattr(self.dataset, 'test_mode', False))
        check_images = check_images or ('decode' if self.test_mode else 'exists')
        if check_images not in ('exists', 'decode', 'none'):
            raise ValueError(f"check_images must be 'exists', 'decode' or 'none', got {check_images!r}")
        self.check_images = check_images
        self.max_refetch = int(max_refetch)
        self._load_failures = mp.Value('l', 0)  # images, shared with forked data-loader workers
        self._bad_paths: set = set()  # per process: not picked again as a replacement
        self._init_counts: Counter = Counter()
        self._non_finite_ids: Dict[object, str] = {}  # annotation id -> reason, from the annotation file
        self._fully_initialized = False

    @property
    def metainfo(self) -> dict:
        return self.dataset.metainfo

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        self.dataset.full_init()
        self._count_annotations()
        self._drop_non_finite()
        self._drop_bad_images()
        self._fully_initialized = True
        logger = MMLogger.get_current_instance()
        name = type(self.dataset).__name__
        if self.skipped:
            logger.warning(f'{name} ({getattr(self.dataset, "ann_file", "")}): skipped ' + ', '.join(
                f'{n} x {r}' for r, n in self.skipped.items()) + f'; {len(self)} samples left')
        if len(self.dataset) == 0:
            raise ValueError(f'{name}: nothing is usable ({dict(self.skipped)}); check the annotation file and '
                             'the image folder (data_root, data_prefix)')

    # ---- what was skipped --------------------------------------------------------------------------------
    @property
    def skipped(self) -> Dict[str, int]:
        counts = Counter(self._init_counts)
        if self._load_failures.value:  # images (not instances) that failed to load in training
            counts['unreadable image'] += self._load_failures.value
        return {r: counts[r] for r in REASONS + NOTES if counts[r]}

    def _count_annotations(self) -> None:
        """Classify the raw annotations as mmpose does (it drops them without a word) to count them."""
        ann_file = getattr(self.dataset, 'ann_file', None)
        if not ann_file or not osp.isfile(ann_file):
            return
        with open(ann_file) as f:
            raw = json.load(f)
        images = {img['id']: img for img in raw.get('images', [])}
        for ann in raw.get('annotations', []):
            img = images.get(ann.get('image_id'))
            if img is None:
                self._init_counts['annotation without its image'] += 1
                continue
            bad = _first_non_finite(ann, RAW_FIELDS)
            if bad is not None:  # mmpose clips an infinite box corner to the border: decided on the file's numbers
                self._non_finite_ids[ann.get('id')] = bad
                continue
            if self.test_mode:
                continue  # evaluation keeps every annotation for the metric; boxes come from the detector file
            kpts = np.asarray(ann.get('keypoints', []), dtype=np.float32).reshape(-1, 3)
            x, y, w, h = ann.get('bbox', (0, 0, 0, 0))
            if ann.get('iscrowd', 0):
                self._init_counts['crowd annotation'] += 1
            elif w <= 0 or h <= 0 or min(x + w, img['width'] - 1) <= max(x, 0) or \
                    min(y + h, img['height'] - 1) <= max(y, 0):
                self._init_counts['zero-area or negative box'] += 1
            elif not len(kpts) or kpts[:, 2].max() <= 0 or ann.get('num_keypoints', 1) == 0:
                self._init_counts['no visible keypoint'] += 1
            else:
                vis = kpts[kpts[:, 2] > 0]
                if ((vis[:, 0] < 0) | (vis[:, 1] < 0) | (vis[:, 0] >= img['width']) |
                        (vis[:, 1] >= img['height'])).any():
                    self._init_counts['keypoints outside the image'] += 1

    def _drop_non_finite(self) -> None:
        """Skip the instances with a NaN or infinite box, score, keypoint (or visibility) or area, in the annotation
        file or in what mmpose made of it: mmpose keeps them (a NaN box passes its size checks and would train as a
        flat crop, an infinite corner is clipped to the border, NaN keypoints only zero their target weights)."""
        from_file = {} if getattr(self.dataset, 'bbox_file', None) else self._non_finite_ids
        keep: List[int] = []
        for i in range(len(self.dataset)):
            info = self.dataset.get_data_info(i)
            bad = from_file.get(info.get('id')) or _first_non_finite(info, NON_FINITE)
            if bad is None:
                keep.append(i)
            else:
                self._init_counts[bad] += 1
        if len(keep) < len(self.dataset):
            self.dataset.get_subset_(keep)

    def _drop_bad_images(self) -> None:
        if self.check_images == 'none':
            return
        keep: List[int] = []
        verdict: Dict[str, Optional[str]] = {}
        for i in range(len(self.dataset)):
            path = self.dataset.get_data_info(i)['img_path']
            if path not in verdict:
                verdict[path] = self._image_problem(path)
            if verdict[path] is None:
                keep.append(i)
            else:
                self._init_counts[verdict[path]] += 1
        if len(keep) < len(self.dataset):
            self.dataset.get_subset_(keep)

    def _image_problem(self, path: str) -> Optional[str]:
        if not osp.isfile(path):
            return 'image file missing'
        if self.check_images == 'decode' and cv2.imread(path, cv2.IMREAD_COLOR) is None:
            return 'unreadable image'
        return None

    # ---- dataset protocol ----------------------------------------------------------------------------------
    @force_full_init
    def __len__(self) -> int:
        return len(self.dataset)

    @force_full_init
    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx)

    @force_full_init
    def __getitem__(self, idx: int) -> dict:
        for _ in range(self.max_refetch + 1):
            try:
                return self.dataset[idx]
            except (OSError, ValueError, AssertionError, cv2.error) as e:
                if self.test_mode:
                    raise RuntimeError(f'cannot load sample {idx} ({self.dataset.get_data_info(idx)["img_path"]}) '
                                       f'for evaluation: {e}') from e
                path = self.dataset.get_data_info(idx)['img_path']
                if path not in self._bad_paths:
                    self._bad_paths.add(path)
                    with self._load_failures.get_lock():
                        self._load_failures.value += 1
                    MMLogger.get_current_instance().warning(f'skipped an unreadable training image ({path}): {e}')
                idx = random.randrange(len(self.dataset))
        raise RuntimeError(f'{self.max_refetch + 1} training samples in a row could not be loaded; '
                           f'skipped so far: {self.skipped}')
