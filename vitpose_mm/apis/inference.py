"""One call from an image to the people in it: person boxes (mmdet, given, or the whole image) -> ViTPose, or a
bottom-up ViTPose that finds every person itself (``bottomup.py``).

Built on mmpose's ``init_model``/``inference_topdown`` (all boxes of an image go through the pose model as one batch)
and mmdet's ``init_detector``/``inference_detector``; this module adds what they leave to the caller: image
conversion (``images.py``), box formats, box selection (category, score, NMS), dropping degenerate boxes (the box
convention of ``boxes.py``: boxes are never clipped), and plain results.
"""
import logging
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
import torch.nn as nn
from mmengine.logging import print_log
from mmpose.apis import inference_topdown, init_model
from mmpose.evaluation.functional import nms

from ..checkpoints import load_checkpoint
from ..models.pose_estimators.fast_inference import enable_fast_inference, fast_inference_options
from ..utils import check_model_types, load_config
from .bottomup import BOTTOMUP, model_data_mode, people_from_sample, predict_bottomup, refuse_boxes
from .boxes import COCO_PERSON_ID, BoxCounts, as_boxes, drop_degenerate_boxes
from .images import ImageLike, load_image


@dataclass
class Person:
    """One person found in an image.

    Attributes:
        keypoints: ``(K, 2)`` x, y in image pixels.
        keypoint_scores: ``(K,)`` confidences.
        bbox: ``(4,)`` x1, y1, x2, y2 of the person box, as the pose model used it (not clipped to the image).
        bbox_score: the box's detector score (1 for the whole image or boxes given without score).
        track_id: the id that follows the person across video frames, when tracking.
    """
    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    bbox: np.ndarray
    bbox_score: float
    track_id: Optional[int] = None

    def score(self, kpt_thr: float = 0.2) -> float:
        """The instance score mmpose's ``CocoMetric`` gives (``score_mode='bbox_keypoint'``): the box score times
        the mean of the keypoint scores above ``kpt_thr`` (0 when there are none)."""
        valid = self.keypoint_scores[self.keypoint_scores > kpt_thr]
        return float(self.bbox_score * valid.mean()) if len(valid) else 0.0

    def to_coco(self, image_id: Optional[int] = None, category_id: int = COCO_PERSON_ID) -> dict:
        """A COCO keypoint-results record: ``keypoints`` as K x (x, y, score), ``bbox`` as x, y, w, h."""
        kpts = np.concatenate([self.keypoints, self.keypoint_scores[:, None]], axis=1)
        x1, y1, x2, y2 = (float(v) for v in self.bbox)
        record = dict(
            image_id=image_id,
            category_id=category_id,
            keypoints=[round(float(v), 3) for v in kpts.reshape(-1)],
            score=round(self.score(), 5),
            bbox=[round(v, 2) for v in (x1, y1, x2 - x1, y2 - y1)],
            bbox_score=round(float(self.bbox_score), 5))
        if self.track_id is not None:
            record['track_id'] = int(self.track_id)
        return record


class PoseEstimator:
    """Pose estimation of every person in an image, top-down (person boxes, then one crop each) or bottom-up.

    ``estimator(img)`` finds person boxes with the detector (label ``det_cat_id``, score above ``bbox_thr``, NMS at
    ``nms_thr``, degenerate ones dropped: logged, counted in ``num_dropped_boxes``), or takes the whole image as one
    box when there is no detector, and runs all crops through the pose model as one batch. Boxes are used as given,
    never clipped (the convention of ``vitpose_mm/apis/boxes.py``, which ``tools/test.py`` evaluates with). No
    person -> an empty list.

    A bottom-up model (mmpose's ``BottomupPoseEstimator``, ``data_mode == 'bottomup'``) takes the whole image
    through its test pipeline and head (grouping, flip test of its ``test_cfg``) and needs no boxes: a detector or
    ``bboxes`` are refused (ValueError naming them). Its people are those the head finds with a person score above
    ``person_thr`` (see :func:`vitpose_mm.apis.bottomup.people_from_sample`), highest first.

    Args:
        pose_model: a top-down or bottom-up mmpose model from ``mmpose.apis.init_model`` (or ``from_config``).
        detector: an mmdet detector from ``mmdet.apis.init_detector`` whose ``cfg`` went through
            ``mmpose.utils.adapt_mmdet_pipeline``, or None.
        det_cat_id: the detector's label of "person" (0 for COCO-trained mmdet detectors).
        bbox_thr: detector boxes need a score above this.
        nms_thr: IoU above which the lower-scored of two boxes is suppressed.
        min_box_size: boxes whose part inside the image is narrower or lower than this (pixels) are degenerate.
        precision: the pose model's precision, ``'fp32'``, ``'bf16'`` (CPU and CUDA) or ``'fp16'`` (CUDA); None
            takes the config's ``model.test_cfg.precision``, else fp32. Heatmaps are decoded in fp32 either way.
        compile: ``torch.compile`` the pose model (``model.test_cfg.compile`` when None). A fast path converts the
            pose model in place (``enable_fast_inference``, docs/speed.md); the flip test then runs as one batch.
        person_thr: bottom-up models: a person needs a score above this (the head's own thresholds, e.g. SPR's
            ``decode_thr``, come first). Unused by top-down models.

    Attributes:
        data_mode: ``'topdown'`` or ``'bottomup'``.

    Raises:
        ValueError: a ``precision`` that is not accepted on the pose model's device (the message names the
            accepted ones); a ``detector``, another precision than fp32 or ``compile`` with a bottom-up model.
    """

    def __init__(self, pose_model: nn.Module, detector: Optional[nn.Module] = None, det_cat_id: int = 0,
                 bbox_thr: float = 0.3, nms_thr: float = 0.3, min_box_size: float = 1.0,
                 precision: Optional[str] = None, compile: Optional[bool] = None, person_thr: float = 0.1):
        self.data_mode = model_data_mode(pose_model)
        if self.data_mode == BOTTOMUP and detector is not None:
            raise refuse_boxes('detector')
        options = fast_inference_options(getattr(pose_model, 'test_cfg', None))
        precision = options['precision'] if precision is None else precision
        compile = options['compile'] if compile is None else compile
        if self.data_mode == BOTTOMUP and (precision != 'fp32' or compile):
            raise ValueError(f'precision={precision!r}, compile={compile!r}: the fast paths are top-down ones; a '
                             "bottom-up model runs precision='fp32' without compile")
        if precision != 'fp32' or compile:
            enable_fast_inference(pose_model, precision, compile)
        self.pose_model = pose_model
        self.detector = detector
        self.det_cat_id = det_cat_id
        self.bbox_thr = bbox_thr
        self.nms_thr = nms_thr
        self.min_box_size = min_box_size
        self.person_thr = person_thr
        self.num_dropped_boxes = 0

    @classmethod
    def from_config(cls, pose_config: str, pose_checkpoint: Optional[str] = None, det_config: Optional[str] = None,
                    det_checkpoint: Optional[str] = None, device: str = 'cpu',
                    det_cfg_options: Optional[dict] = None, **kwargs) -> 'PoseEstimator':
        """Build from config files (a config name of the package's ``configs/`` works without a path).

        The pose checkpoint goes through :func:`vitpose_mm.checkpoints.load_checkpoint`: any public layout is
        converted on the way, and one that does not fit raises ``CheckpointMismatchError`` (a ``RuntimeError``)
        saying what it is and the fix, with the model untouched. The checkpoint's ``dataset_meta`` (keypoint names,
        skeleton, flip pairs) replaces the config's; a checkpoint of another dataset than the config's (an AP-10K
        model in a COCO config) is run as what it is, with a warning naming both datasets. Without
        ``pose_checkpoint`` the model keeps random weights (for tests). A config naming a model, head or codec the
        installed mmpose does not register raises ValueError naming it and the mmpose version. ``det_cfg_options`` overrides detector config
        entries, e.g. ``{'model.test_cfg.score_thr': 0.0}``. Other keyword arguments go to ``__init__``.
        """
        cfg = load_config(pose_config)
        check_model_types(cfg)  # a head or codec the installed mmpose lacks: named, with the mmpose version
        pose_model = init_model(cfg, None, device='cpu')
        if pose_checkpoint is None:
            print_log('no pose checkpoint given: the pose model has random weights', 'current', logging.WARNING)
        else:
            if not osp.exists(pose_checkpoint) and '://' not in pose_checkpoint:
                raise FileNotFoundError(f'pose checkpoint not found: {pose_checkpoint}')
            # a checkpoint of another dataset than the config's (an AP-10K model in a COCO config) is only warned
            # about: its own dataset_meta (keypoints, skeleton, flip pairs) replaces the config's just below
            loaded = load_checkpoint(pose_model, pose_checkpoint, config=pose_config,
                                     dataset_meta=getattr(pose_model, 'dataset_meta', None), dataset_check='warn')
            if loaded.dataset_meta is not None:  # as init_model does: the checkpoint's skeleton wins over the config's
                pose_model.dataset_meta = loaded.dataset_meta
        pose_model.to(device)
        detector = None
        if det_config is not None and model_data_mode(pose_model) == BOTTOMUP:
            raise refuse_boxes('det_config', pose_config)
        if det_config is not None:
            from mmdet.apis import init_detector
            from mmpose.utils import adapt_mmdet_pipeline
            if not osp.isfile(det_config):
                raise FileNotFoundError(f'detector config not found: {det_config}')
            if det_checkpoint is None:
                print_log('no detector checkpoint given: the detector has random weights', 'current',
                          logging.WARNING)
            detector = init_detector(det_config, det_checkpoint, device=device, cfg_options=det_cfg_options)
            detector.cfg = adapt_mmdet_pipeline(detector.cfg)
        return cls(pose_model, detector, **kwargs)

    @property
    def dataset_meta(self) -> dict:
        """The pose model's keypoint names, skeleton and colours (mmpose's ``parse_pose_metainfo`` format)."""
        return self.pose_model.dataset_meta

    def select_boxes(self, boxes: np.ndarray, img_shape: Tuple[int, int], bbox_format: str = 'xyxy',
                     counts: Optional[BoxCounts] = None) -> np.ndarray:
        """Detected ``(N, 5)`` boxes (``bbox_format`` 'xyxy' or 'xywh', + score) -> ``(N, 5)`` xyxy person boxes:
        score above ``bbox_thr``, degenerate ones dropped (see ``drop_degenerate_boxes``), then NMS at ``nms_thr``.
        ``counts`` (a ``BoxCounts``), when given, adds the boxes seen and why each dropped one was dropped.
        """
        boxes = as_boxes(boxes, bbox_format)
        above = boxes[boxes[:, 4] > self.bbox_thr]
        kept = self._drop_degenerate(above, img_shape, bbox_format)
        selected = kept[nms(kept, self.nms_thr)] if len(kept) else kept
        if counts is not None:
            counts.total += len(boxes)
            counts.below_score += len(boxes) - len(above)
            counts.score_thr = self.bbox_thr
            counts.degenerate += len(above) - len(kept)
            counts.suppressed += len(kept) - len(selected)
        return selected

    def detect(self, img: ImageLike, channel_order: Optional[str] = None) -> np.ndarray:
        """The detector's person boxes (label ``det_cat_id``) as ``(N, 5)`` xyxy + score, through ``select_boxes``."""
        if self.detector is None:
            raise RuntimeError('this PoseEstimator has no detector')
        from mmdet.apis import inference_detector
        img = load_image(img, channel_order)
        pred = inference_detector(self.detector, img).pred_instances.cpu().numpy()
        boxes = np.concatenate([pred.bboxes, pred.scores[:, None]], axis=1)
        return self.select_boxes(boxes[pred.labels == self.det_cat_id], img.shape[:2])

    def __call__(self, img: ImageLike, bboxes: Optional[np.ndarray] = None, bbox_format: str = 'xyxy',
                 channel_order: Optional[str] = None) -> List[Person]:
        """The people in ``img``.

        Args:
            img: a file path (``str`` or ``os.PathLike``), a numpy array or a PIL image (see ``load_image``).
            bboxes: ``(N, 4)`` or ``(N, 5)`` person boxes (+ score) to use instead of the detector's or the whole
                image; degenerate ones are dropped, nothing else (no score threshold, no NMS: see
                ``select_boxes``).
            bbox_format: the format of ``bboxes``: ``'xyxy'`` (x1, y1, x2, y2; the default) or ``'xywh'`` (x, y,
                width, height, as COCO and HF transformers give them).
            channel_order: of an array ``img``: ``'bgr'`` (OpenCV's; the default) or ``'rgb'``.

        Raises:
            ValueError / TypeError / FileNotFoundError: an image, a ``bbox_format`` or a ``channel_order`` that is
            not accepted (the message names the accepted ones); ``bboxes`` given to a bottom-up model.
        """
        if self.data_mode == BOTTOMUP:
            if bboxes is not None:
                raise refuse_boxes('bboxes')
            return people_from_sample(predict_bottomup(self.pose_model, load_image(img, channel_order)),
                                      self.person_thr)
        img = load_image(img, channel_order)
        h, w = img.shape[:2]
        if bboxes is not None:
            boxes = self._drop_degenerate(as_boxes(bboxes, bbox_format), (h, w), bbox_format)
        elif self.detector is not None:
            boxes = self.detect(img)
        else:
            boxes = np.array([[0, 0, w, h, 1]], np.float32)
        # mmpose's inference_topdown treats "no boxes" as "the whole image is one box": no box must mean no person.
        if len(boxes) == 0:
            return []
        samples = inference_topdown(self.pose_model, img, boxes[:, :4], bbox_format='xyxy')
        people = []
        for box, sample in zip(boxes, samples):
            pred = sample.pred_instances
            people.append(Person(
                keypoints=np.asarray(pred.keypoints[0], np.float32),
                keypoint_scores=np.asarray(pred.keypoint_scores[0], np.float32),
                bbox=box[:4].copy(),
                bbox_score=float(box[4])))
        return people

    def _drop_degenerate(self, boxes: np.ndarray, img_shape: Tuple[int, int], bbox_format: str) -> np.ndarray:
        boxes, dropped, inverted = drop_degenerate_boxes(boxes, img_shape, self.min_box_size)
        if dropped:
            self.num_dropped_boxes += dropped
            hint = ''
            if inverted and bbox_format == 'xyxy':
                hint = (f'; {inverted} of them have x2 < x1 or y2 < y1: if the boxes are x, y, width, height, '
                        "pass bbox_format='xywh'")
            print_log(f'dropped {dropped} degenerate person box(es) (not finite, or under {self.min_box_size} px '
                      f'inside the {img_shape[1]}x{img_shape[0]} image){hint}', 'current', logging.WARNING)
        return boxes
