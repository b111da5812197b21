# References: facebookresearch/detectron2 modeling/backbone/vit.py and utils.py (ViTDet: window partition of a padded
# grid, decomposed relative position), microsoft/Swin-Transformer models/swin_transformer.py (cyclic shift by half a
# window and the mask that keeps shifted-in tokens apart), ViTPose paper section 4.3 (pooling windows).
"""Window attention over the patch grid: plain windows, Swin-style shifted windows and pooling windows.

The (Hp, Wp) patch grid is cut into non-overlapping (wh, ww) windows; tokens attend only inside their window.

- padding: a grid that the window does not divide is padded at the bottom and right (as ViTDet). Unlike ViTDet,
  the padded positions are masked out of the keys, so that padding never changes a real token's output.
- shift (Swin): the grid is rolled by ``-shift_size`` before the partition and back afterwards; tokens that the roll
  brings into one window from opposite borders are masked apart. This equals windows whose borders are moved by
  ``shift_size`` with no wrap-around, which is how the mask is built (:func:`shifted_window_groups`).
- pool (ViTPose paper): each window of the *unshifted* partition is averaged to one token (mean of its real tokens'
  keys and values, which equals the projection of the mean token: the projection is affine); these global tokens are
  appended to every window's keys and values. No parameters.
- relative position (ViTDet's decomposed form, optional): ``rel_pos_h`` (2 wh - 1, head_dim) and ``rel_pos_w``
  (2 ww - 1, head_dim) add ``q . R_h[dy] + q . R_w[dx]`` to the logits of keys inside the window, zero-initialised so
  that plain ViTPose / MAE weights give a working model. Pooled and extra tokens get no relative position.
- extra tokens (``N > Hp * Wp``, knowledge-token distillation): appended to every window's keys and values; as
  queries they attend to every token (full attention), so they still see the whole image.
"""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MMLogger

from .attention import Attention, attend
from .patch_embed import to_2tuple

REL_POS_NAMES = ('rel_pos_h', 'rel_pos_w')


def is_relative_position_key(name: str) -> bool:
    """Whether a state-dict key is a window attention's relative-position table (absent from plain checkpoints)."""
    return name.rsplit('.', 1)[-1] in REL_POS_NAMES and '.attn.' in f'.{name}'


def window_partition(x: torch.Tensor, window: Tuple[int, int]) -> torch.Tensor:
    """(..., Hp, Wp, d) with Hp, Wp multiples of the window -> (..., nH * nW, wh * ww, d), windows row-major."""
    *lead, H, W, d = x.shape
    wh, ww = window
    x = x.reshape(*lead, H // wh, wh, W // ww, ww, d).transpose(-4, -3)
    return x.reshape(*lead, (H // wh) * (W // ww), wh * ww, d)


def window_unpartition(x: torch.Tensor, window: Tuple[int, int], grid: Tuple[int, int]) -> torch.Tensor:
    """Inverse of :func:`window_partition`: (..., nH * nW, wh * ww, d) -> (..., Hp, Wp, d)."""
    *lead, _, _, d = x.shape
    (wh, ww), (H, W) = window, grid
    x = x.reshape(*lead, H // wh, W // ww, wh, ww, d).transpose(-4, -3)
    return x.reshape(*lead, H, W, d)


def shifted_window_groups(grid: Tuple[int, int], padded: Tuple[int, int], window: Tuple[int, int],
                          shift: Tuple[int, int], device: Optional[torch.device] = None) -> torch.Tensor:
    """(Hp', Wp') group id of every position of the padded grid; two tokens of one window may attend to each other
    iff their ids are equal. Id -1 marks padding.

    A position (r, c) belongs to the unwrapped shifted window (floor((r - sh) / wh), floor((c - sw) / ww)): after
    Swin's roll by -shift, tokens of one rolled window with different ids are exactly those brought together by
    the wrap-around.
    """
    rows = torch.div(torch.arange(padded[0], device=device) - shift[0], window[0], rounding_mode='floor') + 1
    cols = torch.div(torch.arange(padded[1], device=device) - shift[1], window[1], rounding_mode='floor') + 1
    groups = rows[:, None] * (padded[1] // window[1] + 2) + cols[None, :]
    groups[grid[0]:, :] = -1
    groups[:, grid[1]:] = -1
    return groups


def relative_positions(size: int, table: torch.Tensor) -> torch.Tensor:
    """(2 size - 1, d) table -> (size, size, d): entry [i, j] is ``table[i - j + size - 1]`` (ViTDet get_rel_pos,
    for windows whose table has the window's own size)."""
    idx = torch.arange(size, device=table.device)
    return table[idx[:, None] - idx[None, :] + size - 1]


class WindowAttention(Attention):
    """Attention inside (wh, ww) windows of the patch grid, optionally shifted, pooled, with relative position.

    Args:
        dim, num_heads, qkv_bias, qk_scale, attn_drop, proj_drop, attn_head_dim, fused_attn: as :class:`Attention`
            (same parameter names, so plain ViTPose / MAE weights load).
        window_size: (wh, ww) window in patches, or one int for a square window.
        shift_size: (sh, sw) cyclic shift with ``0 <= sh < wh`` and ``0 <= sw < ww``; (0, 0) for plain windows.
        pool: append each window's mean token to every window's keys and values.
        use_rel_pos: add ViTDet's decomposed relative position (``rel_pos_h``, ``rel_pos_w``, zero-initialised).

    ``forward(x, hw)``: (B, N, dim) tokens, the first Hp * Wp of them the row-major (Hp, Wp) = ``hw`` patch grid,
    the rest extra tokens -> (B, N, dim).
    """

    def __init__(self, dim: int, num_heads: int = 8, qkv_bias: bool = False, qk_scale: Optional[float] = None,
                 attn_drop: float = 0., proj_drop: float = 0., attn_head_dim: Optional[int] = None,
                 fused_attn: bool = True, window_size: Union[int, Sequence[int]] = 8,
                 shift_size: Union[int, Sequence[int]] = 0, pool: bool = False, use_rel_pos: bool = False):
        super().__init__(dim, num_heads, qkv_bias, qk_scale, attn_drop, proj_drop, attn_head_dim, fused_attn)
        self.window_size = to_2tuple(window_size)
        self.shift_size = to_2tuple(shift_size)
        if min(self.window_size) < 1:
            raise ValueError(f'window_size must be positive, got {window_size}')
        if not all(0 <= s < w for s, w in zip(self.shift_size, self.window_size)):
            raise ValueError(f'shift_size must be in [0, window_size={self.window_size}) per axis, got {shift_size}')
        self.pool = pool
        self.use_rel_pos = use_rel_pos
        if use_rel_pos:
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * self.window_size[0] - 1, self.head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * self.window_size[1] - 1, self.head_dim))

    def extra_repr(self) -> str:
        return (f'window_size={self.window_size}, shift_size={self.shift_size}, pool={self.pool}, '
                f'use_rel_pos={self.use_rel_pos}')

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # Plain ViTPose / MAE checkpoints have no relative-position tables: they load as zeros (their init), which
        # makes this block the plain windowed attention of those weights.
        if self.use_rel_pos:
            filled = [n for n in REL_POS_NAMES if prefix + n not in state_dict]
            for n in filled:
                state_dict[prefix + n] = torch.zeros_like(getattr(self, n))
            if filled:
                MMLogger.get_current_instance().debug(f'{prefix}{"/".join(filled)} not in the checkpoint: zeros')
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def _grid_masks(self, hw: Tuple[int, int], padded: Tuple[int, int], device: torch.device):
        """(nW, T, T) bool: which keys each window query may see (same group id), or None when all may."""
        if padded == tuple(hw) and self.shift_size == (0, 0):
            return None
        groups = shifted_window_groups(hw, padded, self.window_size, self.shift_size, device)
        groups = torch.roll(groups, (-self.shift_size[0], -self.shift_size[1]), (0, 1))
        groups = window_partition(groups[..., None], self.window_size)[..., 0]  # (nW, T)
        return groups[:, :, None] == groups[:, None, :]

    def _rel_pos_bias(self, q: torch.Tensor) -> torch.Tensor:
        """(..., T, d) window queries -> (..., T, T) decomposed relative-position logits."""
        wh, ww = self.window_size
        rh, rw = relative_positions(wh, self.rel_pos_h), relative_positions(ww, self.rel_pos_w)
        qg = q.reshape(*q.shape[:-2], wh, ww, q.shape[-1])
        bias_h = torch.einsum('...hwc,hkc->...hwk', qg, rh.to(q.dtype))
        bias_w = torch.einsum('...hwc,wkc->...hwk', qg, rw.to(q.dtype))
        return (bias_h[..., :, None] + bias_w[..., None, :]).reshape(*q.shape[:-2], wh * ww, wh * ww)

    def forward(self, x: torch.Tensor, hw: Optional[Tuple[int, int]] = None) -> torch.Tensor:
        if hw is None:
            raise ValueError('WindowAttention needs the patch grid hw=(Hp, Wp)')
        B, N, _ = x.shape
        hp, wp = hw
        n_patch = hp * wp
        if N < n_patch:
            raise ValueError(f'{N} tokens cannot hold a {hp}x{wp} patch grid')
        q, k, v = self._qkv(x)  # (B, h, N, d)
        (wh, ww), (sh, sw) = self.window_size, self.shift_size
        padded = (-(-hp // wh) * wh, -(-wp // ww) * ww)

        def windows(t: torch.Tensor, shift: Tuple[int, int]) -> torch.Tensor:
            # (B, h, N, d) -> (B, nW, h, T, d): patch tokens, zero-padded, rolled, cut into windows
            t = t[:, :, :n_patch].reshape(B, self.num_heads, hp, wp, -1)
            t = F.pad(t, (0, 0, 0, padded[1] - wp, 0, padded[0] - hp))
            if shift != (0, 0):
                t = torch.roll(t, (-shift[0], -shift[1]), (2, 3))
            return window_partition(t, self.window_size).transpose(1, 2)

        qw, kw, vw = (windows(t, (sh, sw)) for t in (q, k, v))
        n_win, T = qw.shape[1], qw.shape[3]
        keys, values = [kw], [vw]
        allowed = self._grid_masks(hw, padded, x.device)  # (nW, T, T) or None
        extra_cols = 0
        if self.pool:  # means over the real tokens of the unshifted windows: (B, h, nW, d) -> every window
            valid = window_partition(F.pad(x.new_ones(1, hp, wp, 1), (0, 0, 0, padded[1] - wp, 0, padded[0] - hp)),
                                     self.window_size)  # (1, nW, T, 1)
            count = valid.sum(dim=2)[:, None].to(k.dtype)  # (1, 1, nW, 1); k's dtype also under autocast
            for t, out in ((k, keys), (v, values)):
                pooled = windows(t, (0, 0)).sum(dim=3).transpose(1, 2) / count  # (B, h, nW, d)
                out.append(pooled[:, None].expand(B, n_win, -1, -1, -1))
            extra_cols += n_win
        if N > n_patch:  # extra tokens: keys and values of every window
            for t, out in ((k, keys), (v, values)):
                out.append(t[:, None, :, n_patch:].expand(B, n_win, -1, -1, -1))
            extra_cols += N - n_patch
        kw, vw = torch.cat(keys, dim=3), torch.cat(values, dim=3)

        bias = None
        if allowed is not None:
            bias = torch.zeros(allowed.shape, dtype=q.dtype, device=x.device).masked_fill_(
                ~allowed, torch.finfo(q.dtype).min)[:, None]  # (nW, 1, T, T)
        if self.use_rel_pos:
            rel = self._rel_pos_bias(qw)  # (B, nW, h, T, T)
            bias = rel if bias is None else rel + bias
        if bias is not None:
            S = T + extra_cols
            bias = F.pad(bias, (0, extra_cols))  # pooled and extra keys: always allowed, no relative position
            # a mask alone is shared by the batch: (1, nW * h, T, S); with relative position (B, nW * h, T, S)
            bias = (bias.expand(n_win, self.num_heads, T, S).reshape(1, n_win * self.num_heads, T, S)
                    if bias.dim() == 4 else bias.reshape(B, n_win * self.num_heads, T, S))

        def heads_first(t: torch.Tensor) -> torch.Tensor:  # (B, nW, h, S, d) -> (B, nW * h, S, d)
            return t.reshape(B, n_win * self.num_heads, t.shape[3], t.shape[4])

        out = attend(heads_first(qw), heads_first(kw), heads_first(vw), self.scale, self.fused_attn,
                     self._dropout_p(), bias)
        out = out.reshape(B, n_win, self.num_heads, T, -1).transpose(1, 2)  # (B, h, nW, T, d)
        out = window_unpartition(out, self.window_size, padded)
        if (sh, sw) != (0, 0):
            out = torch.roll(out, (sh, sw), (2, 3))
        out = out[:, :, :hp, :wp].reshape(B, self.num_heads, n_patch, -1)
        if N > n_patch:  # extra tokens as queries: full attention over every token
            out_extra = attend(q[:, :, n_patch:], k, v, self.scale, self.fused_attn, self._dropout_p())
            out = torch.cat([out, out_extra], dim=2)
        return self._out(out)


def plan_block_attention(depth: int, grid: Tuple[int, int], window_size: Union[None, int, Sequence[int]] = None,
                         shift: bool = False, pool: bool = False, global_blocks: Sequence[int] = (),
                         use_rel_pos: bool = False) -> List[Optional[dict]]:
    """Which attention each of ``depth`` blocks gets: None (full attention) or the :class:`WindowAttention`
    arguments. ``grid`` is the (Hp, Wp) patch grid of the model's ``img_size``.

    ``window_size=None`` gives full attention everywhere (the released ViTPose). With windows, the blocks listed in
    ``global_blocks`` keep full attention (ViTDet); ``shift`` moves the windows of every odd block by half a window
    (Swin); ``pool`` and ``use_rel_pos`` apply to every window block. Errors name the argument at fault.
    """
    if not isinstance(global_blocks, Sequence) or isinstance(global_blocks, str):
        raise ValueError(f'global_blocks must be a sequence of block indices, got {global_blocks!r}')
    global_blocks = tuple(global_blocks)
    if window_size is None:
        for name, value in (('shift', shift), ('pool', pool), ('global_blocks', global_blocks),
                            ('use_rel_pos', use_rel_pos)):
            if value:
                raise ValueError(f'{name}={value!r} needs window attention: set window_size as well')
        return [None] * depth
    if isinstance(window_size, bool) or not (isinstance(window_size, int) or (
            isinstance(window_size, Sequence) and len(window_size) == 2
            and all(isinstance(w, int) and not isinstance(w, bool) for w in window_size))):
        raise ValueError(f'window_size must be None, an int or an (h, w) pair of ints, got {window_size!r}')
    window = to_2tuple(window_size)
    if min(window) < 1:
        raise ValueError(f'window_size must be positive, got {window_size!r}')
    if window[0] > grid[0] or window[1] > grid[1]:
        raise ValueError(f'window_size={window} is larger than the {grid[0]}x{grid[1]} patch grid of img_size; '
                         'use at most the grid (a window of the whole grid is full attention)')
    bad = [i for i in global_blocks if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < depth]
    if bad or len(set(global_blocks)) != len(global_blocks):
        raise ValueError(f'global_blocks must be distinct block indices in [0, depth={depth}), got '
                         f'{list(global_blocks)}')
    plan: List[Optional[dict]] = []
    for i in range(depth):
        if i in global_blocks:
            plan.append(None)
            continue
        shift_size = (window[0] // 2, window[1] // 2) if shift and i % 2 == 1 else (0, 0)
        plan.append(dict(window_size=window, shift_size=shift_size, pool=pool, use_rel_pos=use_rel_pos))
    return plan


__all__ = ['WindowAttention', 'plan_block_attention', 'window_partition', 'window_unpartition',
           'shifted_window_groups', 'relative_positions', 'is_relative_position_key', 'REL_POS_NAMES']
