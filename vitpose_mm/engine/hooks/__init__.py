from .data_quality_hook import DataQualityHook
from .epoch_seed_hook import EpochSeedHook

__all__ = ['DataQualityHook', 'EpochSeedHook']
