from .layer_decay_constructor import ViTPoseLayerDecayOptimWrapperConstructor

__all__ = ['ViTPoseLayerDecayOptimWrapperConstructor']
