from .data_quality_hook import DataQualityHook
from .epoch_seed_hook import EpochSeedHook
from .fast_inference_hook import FastInferenceHook

__all__ = ['DataQualityHook', 'EpochSeedHook', 'FastInferenceHook']
