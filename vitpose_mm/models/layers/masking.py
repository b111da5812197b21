# References: facebookresearch/mae models_mae.py (`random_masking`: per-sample shuffle by sorted noise), as
# mmpretrain 1.2.0's MAEViT.random_masking follows it.
"""MAE's random masking of patch tokens (He et al., "Masked Autoencoders Are Scalable Vision Learners", sec. 3)."""
from typing import Optional, Tuple

import torch


def num_kept(num_tokens: int, mask_ratio: float) -> int:
    """How many of ``num_tokens`` tokens a ``mask_ratio`` keeps: ``round(num_tokens * (1 - mask_ratio))``.

    Rounded, not truncated as in MAE (``int(L * (1 - r))``): with floats, ``100 * (1 - 0.9)`` is 9.999..., and
    truncation would keep 9 tokens instead of 10. For MAE's 196 and ViTPose's 192 tokens at 0.75 both give 49 / 48.

    Raises:
        ValueError: ``mask_ratio`` outside [0, 1) or a ratio that keeps no token.
    """
    if not 0.0 <= float(mask_ratio) < 1.0:
        raise ValueError(f'mask_ratio must be in [0, 1), got {mask_ratio!r}')
    keep = int(round(num_tokens * (1.0 - float(mask_ratio))))
    if keep < 1:
        raise ValueError(f'mask_ratio={mask_ratio} keeps no token of {num_tokens}')
    return keep


def random_masking(x: torch.Tensor,
                   mask_ratio: float,
                   generator: Optional[torch.Generator] = None
                   ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep a random ``1 - mask_ratio`` share of each sample's tokens, as MAE does.

    Args:
        x: (B, L, C) tokens.
        mask_ratio: share of tokens to remove, in [0, 1).
        generator: optional torch generator for the noise (tests, pictures).

    Returns:
        ``(kept, mask, ids_restore)``: ``kept`` (B, K, C) the kept tokens, in shuffled order; ``mask`` (B, L), 0 for
        kept and 1 for removed tokens, in the original order; ``ids_restore`` (B, L), the permutation that puts
        ``cat([kept, K' placeholders])`` back into the original order (``gather(..., 1, ids_restore)``), as
        mmpretrain's ``MAEPretrainDecoder`` expects.
    """
    batch, length, dim = x.shape
    keep = num_kept(length, mask_ratio)
    noise = torch.rand(batch, length, device=x.device, generator=generator)
    ids_shuffle = torch.argsort(noise, dim=1)  # ascending: the smallest noise is kept
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :keep]
    kept = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, dim))
    mask = torch.ones(batch, length, device=x.device, dtype=x.dtype)
    mask[:, :keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return kept, mask, ids_restore


__all__ = ['num_kept', 'random_masking']
