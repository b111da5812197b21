from .multi_dataset_topdown import MultiDatasetTopdownPoseEstimator

__all__ = ['MultiDatasetTopdownPoseEstimator']
