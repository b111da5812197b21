from .autocast_optim_wrapper import AutocastOptimWrapper
from .layer_decay_constructor import ViTPoseLayerDecayOptimWrapperConstructor
from .layer_decay_guard import LayerDecayWarning, layer_decay_problem, watch_layer_decay

__all__ = ['AutocastOptimWrapper', 'ViTPoseLayerDecayOptimWrapperConstructor', 'LayerDecayWarning',
           'layer_decay_problem', 'watch_layer_decay']
