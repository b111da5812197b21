"""Datasets shipped with vitpose_mm: the facts of the ViTPose+ pose datasets, the transform and batch sampler
multi-dataset training needs, and a wrapper that skips, counts and reports bad data in real datasets. (The drawn people
of the demos and tests are in :mod:`vitpose_mm.synthetic`.)"""
from .checked_dataset import CheckedDataset
from .facts import DATASETS, POSE_DATASETS, PoseDatasetFacts, dataset_facts, metainfo_file
from .samplers import DatasetBatchSampler
from .transforms import KeepPackedInputs

__all__ = ['CheckedDataset', 'DATASETS', 'POSE_DATASETS', 'PoseDatasetFacts',
           'dataset_facts', 'metainfo_file', 'KeepPackedInputs', 'DatasetBatchSampler']
