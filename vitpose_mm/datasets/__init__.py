"""Datasets shipped with vitpose_mm: the facts of the ViTPose+ pose datasets, the transform and batch sampler
multi-dataset training needs, a wrapper that skips, counts and reports bad data in real datasets, and a procedurally drawn COCO
person-keypoint set for demos and tests."""
from .box_file import BoxFileAP10KDataset, BoxFileCocoDataset
from .checked_dataset import CheckedDataset
from .facts import DATASETS, POSE_DATASETS, PoseDatasetFacts, dataset_facts, metainfo_file
from .samplers import DatasetBatchSampler
from .synthetic import generate_synthetic_coco
from .transforms import KeepPackedInputs

__all__ = ['BoxFileAP10KDataset', 'BoxFileCocoDataset', 'CheckedDataset', 'generate_synthetic_coco', 'DATASETS', 'POSE_DATASETS', 'PoseDatasetFacts',
           'dataset_facts', 'metainfo_file', 'KeepPackedInputs', 'DatasetBatchSampler']
