# References: ViTAE-Transformer/ViTPose mmpose/models/backbones/vit.py (PatchEmbed with `ratio` and its padding).
"""Image to patch tokens, with ViTPose's padding and overlap ratio."""
from typing import Sequence, Tuple, Union

import torch
import torch.nn as nn


def to_2tuple(x: Union[int, Sequence[int]]) -> Tuple[int, int]:
    """``7 -> (7, 7)``, ``(8, 6) -> (8, 6)``."""
    return (int(x), int(x)) if isinstance(x, int) else (int(x[0]), int(x[1]))


def official_padding(ratio: int) -> int:
    """The official patch-embedding padding ``4 + 2 * (ratio // 2 - 1)``: 2 for ratio 1, 4 for ratio 2, 6 for 4."""
    return 4 + 2 * (ratio // 2 - 1)


class PatchEmbed(nn.Module):
    """``Conv2d(in_chans, embed_dim, patch_size, stride=patch_size // ratio, padding)``.

    ViTPose pads the convolution by :func:`official_padding` (2 for ``ratio=1``: a 256x192 input gives a 16x12 grid;
    4 for ``ratio=2``, overlapping 16x16 patches with stride 8: a 32x24 grid, the paper's 1/8 features).
    ``forward``: (B, in_chans, H, W) -> ((B, Hp * Wp, embed_dim), (Hp, Wp)).
    """

    def __init__(self, patch_size: int = 16, in_chans: int = 3, embed_dim: int = 768, ratio: int = 1,
                 padding: int = 2):
        super().__init__()
        patch = to_2tuple(patch_size)
        if isinstance(ratio, bool) or not isinstance(ratio, int) or ratio < 1 or patch[0] % ratio or patch[1] % ratio:
            raise ValueError(f'ratio must be a positive int that divides patch_size={patch}, got {ratio!r}')
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch, stride=(patch[0] // ratio, patch[1] // ratio),
                              padding=padding)

    def grid_for(self, hw: Tuple[int, int]) -> Tuple[int, int]:
        """The (Hp, Wp) patch grid of an (H, W) input (the convolution's output size)."""
        conv = self.proj
        return tuple((s + 2 * p - k) // st + 1 for s, p, k, st in zip(hw, conv.padding, conv.kernel_size,
                                                                      conv.stride))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        x = self.proj(x)
        grid = (x.shape[2], x.shape[3])
        return x.flatten(2).transpose(1, 2), grid


__all__ = ['PatchEmbed', 'official_padding', 'to_2tuple']
