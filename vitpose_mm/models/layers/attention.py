# References: timm layers/attention.py (fused-attention switch), ViTAE-Transformer/ViTPose
# mmpose/models/backbones/vit.py (parameter names `qkv`, `proj`; the written-out math).
"""Multi-head self-attention over all tokens, and the one attention kernel every variant shares."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, fused: bool, dropout_p: float = 0.,
           bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``softmax(q k^T * scale + bias) v`` for (..., L, d) queries and (..., S, d) keys and values -> (..., L, d).

    ``fused=True`` calls ``F.scaled_dot_product_attention``; ``False`` writes the math out, as the official code
    does. ``bias`` (broadcastable to (..., L, S), the dtype of ``q``) is added to the logits: relative positions,
    and ``torch.finfo(dtype).min`` where a key is masked. ``dropout_p`` drops attention weights (pass 0 at eval).
    """
    if fused:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout_p, scale=scale)
    attn = (q * scale) @ k.transpose(-2, -1)
    if bias is not None:
        attn = attn + bias
    attn = attn.softmax(dim=-1)
    if dropout_p > 0.:
        attn = F.dropout(attn, dropout_p)
    return attn @ v


class Attention(nn.Module):
    """Multi-head self-attention with one fused ``qkv`` projection, every token to every token.

    ``fused_attn=True`` uses ``F.scaled_dot_product_attention``; ``False`` writes the math out (softmax(q k^T * scale)
    v), as the official code does. Both give the same result (tests/models/test_vit.py).
    ``forward``: (B, N, dim) -> (B, N, dim); ``hw`` (the patch grid) is accepted for the window variants' sake and
    not needed here.
    """

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = False, qk_scale: Optional[float] = None,
                 attn_drop: float = 0., proj_drop: float = 0., attn_head_dim: Optional[int] = None,
                 fused_attn: bool = True):
        super().__init__()
        self.num_heads = num_heads
        head_dim = attn_head_dim or dim // num_heads
        self.head_dim = head_dim
        self.scale = qk_scale or head_dim**-0.5
        self.fused_attn = fused_attn
        self.qkv = nn.Linear(dim, head_dim * num_heads * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(head_dim * num_heads, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def _dropout_p(self) -> float:
        return self.attn_drop.p if self.training else 0.

    def _qkv(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, N, dim) -> q, k, v, each (B, heads, N, head_dim)."""
        B, N, _ = x.shape
        return self.qkv(x).reshape(B, N, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)

    def _out(self, x: torch.Tensor) -> torch.Tensor:
        """(B, heads, N, head_dim) -> (B, N, dim)."""
        B, _, N, _ = x.shape
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(B, N, -1)))

    def forward(self, x: torch.Tensor, hw: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        q, k, v = self._qkv(x)
        return self._out(attend(q, k, v, self.scale, self.fused_attn, self._dropout_p()))


__all__ = ['Attention', 'attend']
