from .checkpoint_globals import allow_mmengine_checkpoints
from .dist import allow_cpu_distributed
from .fsdp import vit_block_wrap_policy
from .hooks import DataQualityHook, EpochSeedHook
from .optim_wrappers import ViTPoseLayerDecayOptimWrapperConstructor
from .runner import CheckpointMixin, ViTPoseFlexibleRunner, ViTPoseRunner

__all__ = ['ViTPoseRunner', 'ViTPoseFlexibleRunner', 'CheckpointMixin', 'DataQualityHook', 'EpochSeedHook',
           'ViTPoseLayerDecayOptimWrapperConstructor', 'allow_mmengine_checkpoints', 'allow_cpu_distributed',
           'vit_block_wrap_policy']
