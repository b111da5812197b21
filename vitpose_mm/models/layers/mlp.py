# References: ViTAE-Transformer/ViTPose mmpose/models/backbones/vit.py (Mlp) and vit_moe.py (MoEMlp).
"""The transformer MLP and ViTPose+'s mixture-of-experts MLP."""
from typing import Optional

import torch
import torch.nn as nn


class Mlp(nn.Module):
    """fc1 - GELU - fc2, with dropout after each as in the official code. (..., C) -> (..., C)."""

    def __init__(self, in_features: int, hidden_features: int, drop: float = 0.):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, dataset_source: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class MoEMlp(nn.Module):
    """ViTPose+ MLP: shared ``fc2`` for ``C - part_features`` channels, one expert per dataset for the rest.

    ``forward(x, dataset_source)``: (B, N, C) tokens and (B,) expert indices -> (B, N, C). As in the official
    ``vit_moe.py``, no dropout is applied (the official module defines one but never calls it).
    """

    def __init__(self, in_features: int, hidden_features: int, num_expert: int, part_features: int):
        super().__init__()
        if not 0 < part_features < in_features:
            raise ValueError(f'part_features must be in (0, embed_dim={in_features}), got {part_features}')
        self.part_features = part_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features - part_features)
        self.experts = nn.ModuleList(nn.Linear(hidden_features, part_features) for _ in range(num_expert))

    def forward(self, x: torch.Tensor, dataset_source: torch.Tensor) -> torch.Tensor:
        h = self.act(self.fc1(x))
        index = dataset_source.view(-1, 1, 1)
        expert = x.new_zeros(x.shape[:-1] + (self.part_features, ))
        # Every expert runs on every sample and the unselected outputs are masked: all experts then receive
        # (zero) gradients in every step, which DDP needs.
        for i, layer in enumerate(self.experts):
            expert = expert + layer(h) * (index == i)
        return torch.cat([self.fc2(h), expert], dim=-1)


__all__ = ['Mlp', 'MoEMlp']
