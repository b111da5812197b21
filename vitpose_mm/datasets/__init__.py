"""Datasets shipped with vitpose_mm: a procedurally drawn COCO person-keypoint set for demos and tests."""
from .synthetic import generate_synthetic_coco

__all__ = ['generate_synthetic_coco']
