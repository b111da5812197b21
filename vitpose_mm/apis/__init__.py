"""Inference: person boxes (mmdet, a COCO box file or the whole image) -> ViTPose keypoints, tracking, drawing.

Not imported by ``import vitpose_mm`` (configs only need the registered modules); use
``from vitpose_mm.apis import PoseEstimator``.
"""
from .boxes import BoxFile, clip_boxes
from .inference import Person, PoseEstimator, load_image
from .tracking import IoUTracker, KeypointSmoother, OneEuroFilter
from .visualization import build_visualizer, draw_people

__all__ = ['PoseEstimator', 'Person', 'load_image', 'BoxFile', 'clip_boxes', 'IoUTracker', 'KeypointSmoother',
           'OneEuroFilter', 'build_visualizer', 'draw_people']
