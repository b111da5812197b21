"""Datasets shipped with vitpose_mm: a procedurally drawn COCO person-keypoint set for demos and tests, and a
wrapper that skips, counts and reports bad data in real datasets."""
from .checked_dataset import CheckedDataset
from .synthetic import generate_synthetic_coco

__all__ = ['CheckedDataset', 'generate_synthetic_coco']
