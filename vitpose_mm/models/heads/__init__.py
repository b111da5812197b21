from .associative_embedding_training import (AssociativeEmbeddingHeatmapLoss, AssociativeEmbeddingTagLoss,
                                              AssociativeEmbeddingTargets, TrainableAssociativeEmbeddingHead)
from .topdown_heatmap_simple_head import TopdownHeatmapSimpleHead

__all__ = ['TopdownHeatmapSimpleHead', 'AssociativeEmbeddingHeatmapLoss', 'AssociativeEmbeddingTagLoss',
           'AssociativeEmbeddingTargets', 'TrainableAssociativeEmbeddingHead']
