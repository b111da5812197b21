# References: timm vision_transformer.py (Block), ViTAE-Transformer/ViTPose mmpose/models/backbones/vit.py.
"""The pre-norm transformer block of ViTPose, with the attention of its choice."""
from typing import Optional, Tuple

import torch
import torch.nn as nn

from .attention import Attention
from .drop_path import DropPath
from .mlp import Mlp, MoEMlp
from .window_attention import WindowAttention


class Block(nn.Module):
    """Pre-norm transformer block: ``x + drop_path(attn(norm1(x)))`` then ``x + drop_path(mlp(norm2(x)))``.

    ``window=None`` gives full :class:`Attention` (the released ViTPose); a dict gives :class:`WindowAttention` with
    those arguments (``window_size``, ``shift_size``, ``pool``, ``use_rel_pos``). ``part_features > 0`` gives the
    ViTPose+ :class:`MoEMlp`. ``forward(x, dataset_source, hw)``: (B, N, dim) -> (B, N, dim); ``hw`` is the patch
    grid, which window attention needs.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4., qkv_bias: bool = False,
                 qk_scale: Optional[float] = None, drop: float = 0., attn_drop: float = 0., drop_path: float = 0.,
                 attn_head_dim: Optional[int] = None, num_expert: int = 1, part_features: int = 0,
                 fused_attn: bool = True, window: Optional[dict] = None):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        if window is None:
            self.attn = Attention(dim, num_heads, qkv_bias, qk_scale, attn_drop, drop, attn_head_dim, fused_attn)
        else:
            self.attn = WindowAttention(dim, num_heads, qkv_bias, qk_scale, attn_drop, drop, attn_head_dim,
                                        fused_attn, **window)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = (MoEMlp(dim, hidden, num_expert, part_features) if part_features else Mlp(dim, hidden, drop))

    def forward(self, x: torch.Tensor, dataset_source: Optional[torch.Tensor] = None,
                hw: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), hw))
        return x + self.drop_path(self.mlp(self.norm2(x), dataset_source))


__all__ = ['Block']
