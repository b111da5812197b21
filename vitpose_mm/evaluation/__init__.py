"""Evaluation across several pose datasets in one run (docs/vitpose_plus.md)."""
from .multi_dataset_evaluator import PerDatasetEvaluator

__all__ = ['PerDatasetEvaluator']
