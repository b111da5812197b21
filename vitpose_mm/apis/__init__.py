"""Inference: person boxes (mmdet, a COCO box file or the whole image) -> ViTPose keypoints, tracking, drawing.

Not imported by ``import vitpose_mm`` (configs only need the registered modules); use
``from vitpose_mm.apis import PoseEstimator``.
"""
from .boxes import BBOX_FORMATS, BoxCounts, BoxFile, as_boxes, drop_degenerate_boxes
from .demo_runner import DemoError, DemoOptions, run_demo
from .images import CHANNEL_ORDERS, PIL_MODES, load_image
from .inference import Person, PoseEstimator
from .tracking import IoUTracker, KeypointSmoother, OneEuroFilter
from .visualization import build_visualizer, draw_people

__all__ = ['PoseEstimator', 'Person', 'load_image', 'CHANNEL_ORDERS', 'PIL_MODES', 'BoxFile', 'as_boxes', 'BBOX_FORMATS',
           'drop_degenerate_boxes', 'IoUTracker', 'KeypointSmoother', 'OneEuroFilter', 'build_visualizer',
           'draw_people', 'DemoError', 'DemoOptions', 'run_demo', 'BoxCounts']
