from .checkpoint_globals import allow_mmengine_checkpoints
from .dist import allow_cpu_distributed
from .hooks import EpochSeedHook
from .optim_wrappers import ViTPoseLayerDecayOptimWrapperConstructor
from .runner import ViTPoseRunner

__all__ = ['ViTPoseRunner', 'EpochSeedHook', 'ViTPoseLayerDecayOptimWrapperConstructor', 'allow_mmengine_checkpoints', 'allow_cpu_distributed']
