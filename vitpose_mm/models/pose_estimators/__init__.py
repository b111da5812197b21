from .batch_flip_topdown import BatchFlipTopdownPoseEstimator
from .fast_inference import PRECISIONS, enable_fast_inference, fast_inference_options, precision_dtype
from .multi_dataset_topdown import MultiDatasetTopdownPoseEstimator

__all__ = ['BatchFlipTopdownPoseEstimator', 'MultiDatasetTopdownPoseEstimator', 'PRECISIONS', 'enable_fast_inference',
           'fast_inference_options', 'precision_dtype']
