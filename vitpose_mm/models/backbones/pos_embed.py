# References: the position-embedding resampling of the official ViTPose (mmcv_custom/checkpoint.py) and of
# timm's `resample_abs_pos_embed`; written for non-square grids with the old grid given explicitly.
"""Resampling of ViT position embeddings between patch grids."""
import math
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F


def resize_pos_embed(pos_embed: torch.Tensor,
                     src_shape: Sequence[int],
                     dst_shape: Sequence[int],
                     num_extra_tokens: int = 1) -> torch.Tensor:
    """Resample a (1, num_extra_tokens + h*w, C) position embedding to another grid.

    The leading ``num_extra_tokens`` rows (ViTPose's class-token row) are kept as they are; the patch rows are
    resampled bicubically with ``align_corners=False`` and no antialiasing, as the official ViTPose does when it
    loads 224x224 MAE weights for a 256x192 input.

    Args:
        pos_embed: tensor of shape (1, num_extra_tokens + src_h * src_w, C).
        src_shape: (src_h, src_w) grid the patch rows were made for.
        dst_shape: (dst_h, dst_w) target grid.
        num_extra_tokens: number of leading rows that are not patch positions.
    """
    src_h, src_w = (int(s) for s in src_shape)
    dst_h, dst_w = (int(s) for s in dst_shape)
    if pos_embed.dim() != 3 or pos_embed.shape[0] != 1:
        raise ValueError(f'pos_embed must have shape (1, N, C), got {tuple(pos_embed.shape)}')
    if pos_embed.shape[1] != num_extra_tokens + src_h * src_w:
        raise ValueError(f'pos_embed has {pos_embed.shape[1]} rows, expected {num_extra_tokens} extra + '
                         f'{src_h}x{src_w} patch rows')
    if (src_h, src_w) == (dst_h, dst_w):
        return pos_embed
    extra, patches = pos_embed[:, :num_extra_tokens], pos_embed[:, num_extra_tokens:]
    dim = patches.shape[-1]
    grid = patches.reshape(1, src_h, src_w, dim).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=(dst_h, dst_w), mode='bicubic', align_corners=False)
    patches = grid.permute(0, 2, 3, 1).reshape(1, dst_h * dst_w, dim).to(pos_embed.dtype)
    return torch.cat([extra, patches], dim=1)


def infer_grid_shape(num_patches: int, like: Sequence[int]) -> Tuple[int, int]:
    """Guess the (h, w) grid of a checkpoint's position embedding from its number of patch rows.

    Checkpoints do not store their grid. Among the factorisations ``h * w == num_patches`` this picks the one
    whose aspect ratio is closest (in log space) to the grid ``like`` it will be resized to: 196 rows become 14x14
    (MAE, 224x224), 192 rows 16x12 and 432 rows 24x18 (ViTPose at 256x192 and 384x288). Pass the source grid
    explicitly to :func:`resize_pos_embed` where it is known.
    """
    if num_patches <= 0:
        raise ValueError(f'num_patches must be positive, got {num_patches}')
    target = math.log(like[0] / like[1])
    best = None
    for h in range(1, num_patches + 1):
        if num_patches % h:
            continue
        w = num_patches // h
        score = abs(math.log(h / w) - target)
        if best is None or score < best[0] - 1e-12:
            best = (score, h, w)
    return best[1], best[2]
