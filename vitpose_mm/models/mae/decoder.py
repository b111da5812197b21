# References: mmpretrain 1.2.0 models/necks/mae_neck.py (MAEPretrainDecoder) and models/heads/mae_head.py
# (MAEPretrainHead), subclassed only where they assume a square patch grid.
"""mmpretrain's MAE decoder and reconstruction head for ViTPose's non-square grids (16x12 for 256x192 crops).

Only the square-grid parts are replaced (see :mod:`vitpose_mm.models.mae.grid`); the decoder's forward, the mask
token, the loss and the ``norm_pix`` target are mmpretrain's. Pixel targets are the image's aligned p x p patches:
with ViTPose's padding 2, token (i, j) sees pixels [p*i - 2, p*i + p - 2) and is asked to reconstruct
[p*i, p*i + p), a shift of 2 pixels that the decoder absorbs.
"""
from typing import Optional, Sequence

import torch
from mmengine.model import BaseModule
from mmengine.registry import DefaultScope
from mmpretrain.models.heads import MAEPretrainHead
from mmpretrain.models.necks import MAEPretrainDecoder
from mmpretrain.registry import MODELS

from .grid import patchify, sincos_pos_embed, unpatchify


def _grid(grid: Sequence[int]) -> tuple:
    if len(grid) != 2 or any(int(s) < 1 for s in grid):
        raise ValueError(f'grid must be (h, w) with positive sides, got {grid!r}')
    return int(grid[0]), int(grid[1])


@MODELS.register_module()
class ViTPoseMAEDecoder(MAEPretrainDecoder):
    """``MAEPretrainDecoder`` for an (h, w) grid: its fixed sine-cosine positions are made for that grid.

    Args:
        grid: (h, w) patch grid of the encoder (``ViTPoseMAE.patch_shape``), instead of ``num_patches``.
        The others as ``MAEPretrainDecoder`` (MAE: 512 channels, 8 blocks, 16 heads).
    """

    def __init__(self, grid: Sequence[int] = (16, 12), patch_size: int = 16, in_chans: int = 3,
                 embed_dim: int = 768, decoder_embed_dim: int = 512, decoder_depth: int = 8,
                 decoder_num_heads: int = 16, mlp_ratio: int = 4, norm_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        self.grid = _grid(grid)
        super().__init__(num_patches=self.grid[0] * self.grid[1], patch_size=patch_size, in_chans=in_chans,
                         embed_dim=embed_dim, decoder_embed_dim=decoder_embed_dim, decoder_depth=decoder_depth,
                         decoder_num_heads=decoder_num_heads, mlp_ratio=mlp_ratio,
                         norm_cfg=norm_cfg or dict(type='LN', eps=1e-6), init_cfg=init_cfg)
        self.decoder_pos_embed.data.copy_(sincos_pos_embed(self.grid, decoder_embed_dim))

    def init_weights(self) -> None:
        """``MAEPretrainDecoder.init_weights`` with the (h, w) grid: its own builds ``int(sqrt(h * w))`` squared
        positions, which do not fit a non-square grid (192 patches -> 13x13)."""
        BaseModule.init_weights(self)  # the init_cfg, skipping MAEPretrainDecoder's square-grid positions
        self.decoder_pos_embed.data.copy_(sincos_pos_embed(self.grid, self.decoder_pos_embed.shape[-1]))
        torch.nn.init.normal_(self.mask_token, std=.02)


@MODELS.register_module()
class ViTPoseMAEHead(MAEPretrainHead):
    """``MAEPretrainHead`` whose ``patchify`` / ``unpatchify`` work on (h, w) grids (mmpretrain's need H == W).

    Args:
        grid: (h, w) patch grid, for :meth:`unpatchify` (``patchify`` reads it off the image).
        The others as ``MAEPretrainHead`` (``norm_pix``: per-patch normalised targets, MAE's default).
    """

    def __init__(self, loss: dict, grid: Sequence[int] = (16, 12), norm_pix: bool = False, patch_size: int = 16,
                 in_channels: int = 3) -> None:
        # mmpretrain builds the loss in the current default scope: under mmpose's (a pose config, or any code that
        # ran one) its PixelReconstructionLoss is not found, so the loss is built in mmpretrain's scope
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            super().__init__(loss=loss, norm_pix=norm_pix, patch_size=patch_size, in_channels=in_channels)
        self.grid = _grid(grid)

    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, (H/p) * (W/p), p * p * C)."""
        return patchify(imgs, self.patch_size)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, h * w, p * p * C) -> (B, C, h * p, w * p)."""
        return unpatchify(x, self.patch_size, self.grid, self.in_channels)


__all__ = ['ViTPoseMAEDecoder', 'ViTPoseMAEHead']
