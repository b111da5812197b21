"""Procedurally drawn people as a COCO person-keypoint dataset, and the same people relabelled AI-Challenger-style:
the data of the demos and of the tests (``tools/make_synthetic_data.py``, ``tools/make_synthetic_multi_data.py``).

Not imported by ``import vitpose_mm``; use ``from vitpose_mm.synthetic import generate_synthetic_coco``.
"""
from .aic import relabel_coco_to_aic
from .coco import generate_synthetic_coco

__all__ = ['generate_synthetic_coco', 'relabel_coco_to_aic']
