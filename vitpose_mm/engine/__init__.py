from .fsdp import vit_block_wrap_policy
from .hooks import DataQualityHook, EpochSeedHook
from .optim_wrappers import LayerDecayCheckHook, ViTPoseLayerDecayOptimWrapperConstructor
from .runner import CheckpointMixin, ViTPoseFlexibleRunner, ViTPoseRunner

__all__ = ['ViTPoseRunner', 'ViTPoseFlexibleRunner', 'CheckpointMixin', 'DataQualityHook', 'EpochSeedHook',
           'LayerDecayCheckHook', 'ViTPoseLayerDecayOptimWrapperConstructor', 'vit_block_wrap_policy']
