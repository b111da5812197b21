# References: the position-embedding resampling of the official ViTPose (mmcv_custom/checkpoint.py) and of
# timm's `resample_abs_pos_embed`; written for non-square grids with the old grid given explicitly.
"""ViT position embeddings on patch grids: resampling, and the one rule that says which grid a checkpoint's rows are.

A checkpoint stores ``1 + h * w`` position rows, not ``(h, w)``: 192 rows are ViTPose's 16x12 grid (256x192 input)
or its transpose 12x16, and resampling the wrong one to a square grid gives a model that runs and is silently worse.
:func:`source_grid` decides, in this order:

1. ``given``: the grid the caller states (``src_grid=(h, w)``, ``--src-grid H W``);
2. ``recorded``: the grid the checkpoint records (this package writes it into ``meta['vitpose_mm']['grid']``;
   an HF ``config.json`` has ``image_size`` and ``patch_size``);
3. ``default``: the grid of the checkpoint's layout, e.g. 16x12 for official and mmpose ViTPose files (every released
   model is 256x192), used only when its size fits;
4. a square number of rows is a square grid (MAE's 14x14 at 224x224, 16x16 for ViT-H/14);

and otherwise refuses (:class:`AmbiguousGridError`) rather than guess between a grid and its transpose.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger

Grid = Tuple[int, int]


class AmbiguousGridError(ValueError):
    """The position rows of a checkpoint fit several grids and nothing says which one they were made for."""


def resize_pos_embed(pos_embed: torch.Tensor,
                     src_shape: Sequence[int],
                     dst_shape: Sequence[int],
                     num_extra_tokens: int = 1) -> torch.Tensor:
    """Resample a (1, num_extra_tokens + h*w, C) position embedding to another grid.

    The leading ``num_extra_tokens`` rows (ViTPose's class-token row) are kept as they are; the patch rows are
    resampled bicubically with ``align_corners=False`` and no antialiasing, as the official ViTPose does when it
    loads 224x224 MAE weights for a 256x192 input. Rows are read row-major: row ``1 + i * w + j`` is patch (i, j).

    Args:
        pos_embed: tensor of shape (1, num_extra_tokens + src_h * src_w, C).
        src_shape: (src_h, src_w) grid the patch rows were made for.
        dst_shape: (dst_h, dst_w) target grid.
        num_extra_tokens: number of leading rows that are not patch positions.

    Raises:
        ValueError: ``pos_embed`` is not (1, N, C), or N does not match ``src_shape``.
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


def _factor_pairs(n: int) -> List[Grid]:
    return [(h, n // h) for h in range(1, n + 1) if n % h == 0]


def source_grid(num_patches: int,
                given: Optional[Sequence[int]] = None,
                recorded: Optional[Sequence[int]] = None,
                default: Optional[Sequence[int]] = None,
                what: str = 'the checkpoint') -> Tuple[Grid, str]:
    """The (h, w) grid of ``num_patches`` position rows, by the rule of the module docstring, and where it came from.

    Args:
        num_patches: patch rows of the position embedding (without the class row).
        given: grid stated by the caller; an error if it does not have ``num_patches`` cells.
        recorded: grid recorded by the checkpoint; an error if it does not have ``num_patches`` cells.
        default: the layout's grid (16x12 for official/mmpose ViTPose), used when it has ``num_patches`` cells.
        what: the checkpoint, for messages.

    Returns:
        ``((h, w), reason)``, e.g. ``((16, 12), 'recorded in the checkpoint')``.

    Raises:
        ValueError: ``given``/``recorded`` do not have ``num_patches`` cells. AmbiguousGridError: nothing decides
        and ``num_patches`` is not a square.
    """
    if num_patches <= 0:
        raise ValueError(f'num_patches must be positive, got {num_patches}')
    for grid, source in ((given, 'given (src_grid)'), (recorded, 'recorded in the checkpoint')):
        if grid is None:
            continue
        h, w = (int(s) for s in grid)
        if h * w != num_patches:
            raise ValueError(f'{what}: the {source} grid {h}x{w} has {h * w} cells, but its position embedding has '
                             f'{num_patches} patch rows')
        return (h, w), source
    if default is not None and int(default[0]) * int(default[1]) == num_patches:
        return (int(default[0]), int(default[1])), "its layout's default"
    side = math.isqrt(num_patches)
    if side * side == num_patches:
        return (side, side), 'a square number of rows'
    near = min(_factor_pairs(num_patches), key=lambda p: abs(math.log(p[0] / p[1])))
    h, w = max(near), min(near)
    raise AmbiguousGridError(
        f'{what}: its position embedding has {num_patches} patch rows, which could be a {h}x{w} or a {w}x{h} grid '
        f'(input {h * 16}x{w * 16} or {w * 16}x{h * 16} with 16-pixel patches), and the checkpoint does not record '
        f'which. Say it: src_grid=({h}, {w}) (tools: --src-grid {h} {w}; runner: '
        f'--cfg-options checkpoint_loading.src_grid="({h},{w})")')


def resample_pos_embed(pos_embed: torch.Tensor,
                       dst_grid: Sequence[int],
                       given: Optional[Sequence[int]] = None,
                       recorded: Optional[Sequence[int]] = None,
                       default: Optional[Sequence[int]] = None,
                       name: str = 'pos_embed',
                       what: str = 'the checkpoint',
                       reason: Optional[str] = None) -> Tuple[torch.Tensor, Optional[str]]:
    """Bring a checkpoint's (1, 1 + h*w, C) position embedding to ``dst_grid``, logging what was done.

    The source grid comes from :func:`source_grid`. A checkpoint with as many rows as the target and no stated or
    recorded grid is taken as made for the target grid (nothing to do). ``reason`` replaces "given (src_grid)" in
    the note when the caller resolved ``given`` itself (e.g. a converter that applied the rule already).

    Returns:
        ``(pos_embed, note)``; ``note`` (also logged) says from which grid to which, or is None when unchanged.
    """
    dst = (int(dst_grid[0]), int(dst_grid[1]))
    num = pos_embed.shape[1] - 1
    if num == dst[0] * dst[1] and given is None and recorded is None:
        return pos_embed, None
    src, how = source_grid(num, given, recorded, default, what)
    reason = reason if given is not None and reason else how
    if src == dst:
        return pos_embed, None
    note = (f'{name} resampled from a {src[0]}x{src[1]} to the model\'s {dst[0]}x{dst[1]} grid (bicubic; the '
            f'{src[0]}x{src[1]} grid: {reason})')
    MMLogger.get_current_instance().info(note)
    return resize_pos_embed(pos_embed, src, dst, num_extra_tokens=1), note


__all__ = ['AmbiguousGridError', 'Grid', 'resize_pos_embed', 'source_grid', 'resample_pos_embed']
