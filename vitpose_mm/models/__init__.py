from .backbones import ViT
from .distillers import KnowledgeTokenDistiller
from .heads import TopdownHeatmapSimpleHead

__all__ = ['ViT', 'TopdownHeatmapSimpleHead', 'KnowledgeTokenDistiller']
