from .autocast_optim_wrapper import AutocastOptimWrapper
from .layer_decay_constructor import ViTPoseLayerDecayOptimWrapperConstructor
from .layer_decay_guard import LayerDecayCheckHook, LayerDecayWarning, layer_decay_problem, warn_lost_layer_decay

__all__ = ['AutocastOptimWrapper', 'ViTPoseLayerDecayOptimWrapperConstructor', 'LayerDecayCheckHook',
           'LayerDecayWarning', 'layer_decay_problem', 'warn_lost_layer_decay']
