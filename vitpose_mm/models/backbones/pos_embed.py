"""Moved to :mod:`vitpose_mm.models.layers.pos_embed`; this path stays importable."""
from vitpose_mm.models.layers.pos_embed import AmbiguousGridError, resample_pos_embed, resize_pos_embed, source_grid

__all__ = ['AmbiguousGridError', 'resample_pos_embed', 'resize_pos_embed', 'source_grid']
