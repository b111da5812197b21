# References: timm layers/drop.py (DropPath), as used by the official ViTPose vit.py.
"""Stochastic depth."""
import torch
import torch.nn as nn


class DropPath(nn.Module):
    """Stochastic depth per sample (identity at eval time or with ``drop_prob == 0``).

    In training each sample's residual branch is kept with probability ``1 - drop_prob`` and then rescaled by
    ``1 / (1 - drop_prob)``, so that its expectation is unchanged.
    """

    def __init__(self, drop_prob: float = 0.):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0. or not self.training:
            return x
        keep = 1 - self.drop_prob
        mask = x.new_empty((x.shape[0], ) + (1, ) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'


__all__ = ['DropPath']
