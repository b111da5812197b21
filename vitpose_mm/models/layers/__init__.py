"""Building blocks of the ViTPose backbone, laid out as timm's ``layers``."""
from .attention import Attention, attend
from .block import Block
from .drop_path import DropPath
from .mlp import Mlp, MoEMlp
from .patch_embed import PatchEmbed, official_padding, to_2tuple
from .pos_embed import AmbiguousGridError, resample_pos_embed, resize_pos_embed, source_grid
from .window_attention import (REL_POS_NAMES, WindowAttention, is_relative_position_key, plan_block_attention,
                               relative_positions, shifted_window_groups, window_partition, window_unpartition)

__all__ = ['Attention', 'attend', 'Block', 'DropPath', 'Mlp', 'MoEMlp', 'PatchEmbed', 'official_padding',
           'to_2tuple', 'AmbiguousGridError', 'resample_pos_embed', 'resize_pos_embed', 'source_grid', 'WindowAttention', 'plan_block_attention', 'window_partition', 'window_unpartition',
           'shifted_window_groups', 'relative_positions', 'is_relative_position_key', 'REL_POS_NAMES']
