from .topdown_heatmap_simple_head import TopdownHeatmapSimpleHead

__all__ = ['TopdownHeatmapSimpleHead']
