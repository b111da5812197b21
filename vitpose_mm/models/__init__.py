from .backbones import ViT
from .heads import TopdownHeatmapSimpleHead

__all__ = ['ViT', 'TopdownHeatmapSimpleHead']
