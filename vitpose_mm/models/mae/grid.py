# References: mmpretrain 1.2.0 models/utils/position_encoding.py (build_2d_sincos_position_embedding) and
# models/heads/mae_head.py (patchify / unpatchify), which assume square grids; facebookresearch/mae models_mae.py.
"""The non-square patch grid of ViTPose for MAE: fixed sine-cosine positions and (un)patchify of (h, w) grids.

mmpretrain 1.2.0's MAE assumes square grids in three places; this module is where that assumption is replaced:

- ``MAEViT.init_weights`` and ``MAEPretrainDecoder.init_weights`` build their sine-cosine embedding for
  ``int(num_patches ** .5)`` squared (a 16x12 grid of 192 patches would become 13x13 = 169 rows and fail);
- ``build_2d_sincos_position_embedding((h, w))`` itself orders its rows column-major (``meshgrid(w, h)`` with 'ij'
  indexing), which is a consistent labelling only for square grids: for 16x12 its row ``i * 12 + j`` would not be
  patch (i, j) of the row-major token sequence;
- ``MAEPretrainHead.patchify`` asserts ``H == W`` and ``unpatchify`` takes ``sqrt(L)`` for both sides.
"""
from typing import Sequence, Tuple

import torch
from mmpretrain.models.utils import build_2d_sincos_position_embedding


def sincos_pos_embed(grid: Sequence[int], dim: int, cls_row: bool = True) -> torch.Tensor:
    """MAE's fixed 2-D sine-cosine position embedding for an (h, w) grid, rows in row-major patch order.

    Row ``i * w + j`` (after the optional zero class row) is patch (i, j): the first half of the channels encodes the
    row i, the second half the column j. For square grids this is exactly mmpretrain's (and MAE's) embedding.
    mmpretrain's builder is called with the grid's sides swapped: it orders its rows by its first side, then by its
    second, which for ``(w, h)`` is the row-major order of an (h, w) grid.

    Args:
        grid: (h, w) patch grid. dim: channels, divisible by 4.
        cls_row: prepend a zero row for the class token (ViTPose's ``pos_embed`` keeps that row; adding it to every
            patch, as ViTPose does, then changes nothing).

    Returns:
        (1, [1 +] h * w, dim) float tensor.
    """
    h, w = (int(s) for s in grid)
    return build_2d_sincos_position_embedding((w, h), dim, cls_token=cls_row)


def patchify(imgs: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) images -> (B, (H/p) * (W/p), p * p * C) patches, row-major, pixels in (row, column, channel)
    order within a patch (MAE's and mmpretrain's layout, for any H and W divisible by p).

    Raises:
        ValueError: H or W not divisible by ``patch_size``.
    """
    b, c, height, width = imgs.shape
    p = int(patch_size)
    if height % p or width % p:
        raise ValueError(f'image size {height}x{width} is not divisible by patch_size={p}')
    h, w = height // p, width // p
    x = imgs.reshape(b, c, h, p, w, p)
    x = torch.einsum('nchpwq->nhwpqc', x)
    return x.reshape(b, h * w, p * p * c)


def unpatchify(x: torch.Tensor, patch_size: int, grid: Tuple[int, int], channels: int = 3) -> torch.Tensor:
    """Inverse of :func:`patchify`: (B, h * w, p * p * C) -> (B, C, h * p, w * p).

    Raises:
        ValueError: ``x`` does not have ``h * w`` patches of ``p * p * channels`` values.
    """
    h, w = (int(s) for s in grid)
    p = int(patch_size)
    if x.dim() != 3 or x.shape[1] != h * w or x.shape[2] != p * p * channels:
        raise ValueError(f'expected (B, {h * w}, {p * p * channels}) patches of a {h}x{w} grid, got {tuple(x.shape)}')
    x = x.reshape(x.shape[0], h, w, p, p, channels)
    x = torch.einsum('nhwpqc->nchpwq', x)
    return x.reshape(x.shape[0], channels, h * p, w * p)


__all__ = ['sincos_pos_embed', 'patchify', 'unpatchify']
