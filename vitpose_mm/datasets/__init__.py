"""Datasets shipped with vitpose_mm: the facts of the ViTPose+ pose datasets, the transform and batch sampler
multi-dataset training needs, a wrapper that skips, counts and reports bad data in real datasets, and the box-file
datasets that keep the categories asked for. (The drawn people of the demos and tests are in
:mod:`vitpose_mm.synthetic`.)"""
from .box_file import BoxFileAP10KDataset, BoxFileCocoDataset
from .checked_dataset import CheckedDataset
from .facts import DATASETS, POSE_DATASETS, PoseDatasetFacts, dataset_facts, metainfo_file
from .samplers import DatasetBatchSampler
from .transforms import KeepPackedInputs

__all__ = ['BoxFileAP10KDataset', 'BoxFileCocoDataset', 'CheckedDataset', 'DATASETS', 'POSE_DATASETS', 'PoseDatasetFacts',
           'dataset_facts', 'metainfo_file', 'KeepPackedInputs', 'DatasetBatchSampler']
