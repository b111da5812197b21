# References: mmpose 1.3.2 apis/inference.py (inference_bottomup), models/pose_estimators/bottomup.py
# (BottomupPoseEstimator.add_pred_to_datasample), apis/inferencers/pose2d_inferencer.py (data_mode, bbox_thr on
# bottom-up instances), reused.
"""Bottom-up pose models in the inference API: every person of an image in one pass, without person boxes.

A model is bottom-up when it is mmpose's ``BottomupPoseEstimator`` (or says ``data_mode = 'bottomup'``, as an
ONNX runner does); a config is bottom-up when its model is one or its ``data_mode`` is ``'bottomup'`` (the key
mmpose's ``MMPoseInferencer`` reads). The network runs through mmpose's ``inference_bottomup`` (the config's test
pipeline, e.g. ``BottomupResize``, then ``test_step`` with the head's grouping and decoding and the flip test of
``test_cfg``); this module turns its instances into :class:`vitpose_mm.apis.Person` results.
"""
from typing import List, Optional

import numpy as np

BOTTOMUP = 'bottomup'
TOPDOWN = 'topdown'


def model_data_mode(model) -> str:
    """``'bottomup'`` for mmpose's ``BottomupPoseEstimator`` (and models with ``data_mode = 'bottomup'``), else
    ``'topdown'``."""
    from mmpose.models.pose_estimators import BottomupPoseEstimator
    if isinstance(model, BottomupPoseEstimator) or getattr(model, 'data_mode', None) == BOTTOMUP:
        return BOTTOMUP
    return TOPDOWN


def config_data_mode(cfg) -> str:
    """``'bottomup'`` when the config's model is a ``BottomupPoseEstimator`` or its ``data_mode`` says so."""
    model_type = (cfg.get('model') or {}).get('type', '')
    if model_type.split('.')[-1] == 'BottomupPoseEstimator' or cfg.get('data_mode') == BOTTOMUP:
        return BOTTOMUP
    return TOPDOWN


def instance_scores(pred_instances) -> np.ndarray:
    """``(N,)`` person scores of a bottom-up prediction: the head's ``bbox_scores`` when it gives them
    (``AssociativeEmbeddingHead``, ``CIDHead``, RTMO, YOLOX-Pose), else the mean keypoint score (``DEKRHead``, whose
    keypoint scores already include the root score; mmpose's ``CocoMetric`` ranks them so with
    ``score_mode='keypoint'``)."""
    scores = np.asarray(pred_instances.keypoint_scores, np.float32).reshape(len(pred_instances.keypoints), -1)
    if 'bbox_scores' in pred_instances:
        return np.asarray(pred_instances.bbox_scores, np.float32).reshape(-1)
    return scores.mean(axis=1) if scores.shape[1] else np.zeros(len(scores), np.float32)


def keypoint_boxes(keypoints: np.ndarray) -> np.ndarray:
    """``(N, K, 2)`` keypoints -> ``(N, 4)`` x1, y1, x2, y2 of their extent (the box of a bottom-up person without a
    box of its own; it is what ``IoUTracker`` matches across frames)."""
    if len(keypoints) == 0:
        return np.zeros((0, 4), np.float32)
    return np.concatenate([keypoints.min(axis=1), keypoints.max(axis=1)], axis=1).astype(np.float32)


def people_from_sample(sample, person_thr: float = 0.0) -> List:
    """The people of one bottom-up ``PoseDataSample`` (keypoints in image pixels, as ``BottomupPoseEstimator``
    returns them): those whose score (:func:`instance_scores`) is above ``person_thr``, highest score first.

    Returns:
        a list of :class:`vitpose_mm.apis.Person`; ``bbox`` is the head's box when it gives one, else the extent of
        the keypoints; ``bbox_score`` is the person score. An empty list when the head found nobody.
    """
    from .inference import Person
    pred = sample.pred_instances
    keypoints = np.asarray(pred.keypoints, np.float32)
    if keypoints.size == 0:
        return []
    keypoint_scores = np.asarray(pred.keypoint_scores, np.float32).reshape(keypoints.shape[:2])
    scores = instance_scores(pred)
    boxes = np.asarray(pred.bboxes, np.float32).reshape(-1, 4) if 'bboxes' in pred else keypoint_boxes(keypoints)
    order = [i for i in np.argsort(-scores, kind='stable') if scores[i] > person_thr]
    return [Person(keypoints=keypoints[i], keypoint_scores=keypoint_scores[i], bbox=boxes[i].copy(),
                   bbox_score=float(scores[i])) for i in order]


def predict_bottomup(model, img: np.ndarray):
    """One BGR image through mmpose's ``inference_bottomup`` -> its ``PoseDataSample``.

    Raises:
        ValueError: an image without pixels (a side of 0), which no resize can scale.
    """
    from mmpose.apis import inference_bottomup
    if min(img.shape[:2]) == 0:
        raise ValueError(f'img has no pixels: shape {img.shape}')
    return inference_bottomup(model, img)[0]


def refuse_boxes(what: str, source: Optional[str] = None) -> ValueError:
    """The error for a person-box option given to a bottom-up model (``what`` names the option)."""
    return ValueError(f'{what}: {source or "the pose model"} is bottom-up: it finds every person in the image '
                      'itself and takes no person boxes (drop the option, or use a top-down config)')


__all__ = ['BOTTOMUP', 'TOPDOWN', 'model_data_mode', 'config_data_mode', 'instance_scores', 'keypoint_boxes',
           'people_from_sample', 'predict_bottomup', 'refuse_boxes']
