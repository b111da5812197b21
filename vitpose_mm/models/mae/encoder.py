# References: mmpretrain 1.2.0 models/selfsup/mae.py (MAEViT: masked forward, fixed sine-cosine positions, init),
# facebookresearch/mae models_mae.py (forward_encoder).
"""ViTPose's ``ViT`` as the encoder of mmpretrain's ``MAE``: the paper's pre-training on pose data (ViTPose, sec. 4.2).

``ViTPoseMAE`` is a :class:`vitpose_mm.models.ViT` (the same patch embedding with padding 2, position rows, blocks
and ``last_norm``, under the same names), so its weights load into every ViTPose config through ``init_cfg``.
What it adds, for mmpretrain's ``MAE`` algorithm, ``MAEPretrainDecoder``-style neck and ``MAEPretrainHead``-style
head (:mod:`vitpose_mm.models.mae.decoder`):

- ``forward(x)`` (``mask=True``) masks a random ``mask_ratio`` share of the patch tokens after the position
  embedding, runs the blocks and ``last_norm`` on the kept tokens only, and returns ``(latent, mask, ids_restore)``;
- ``forward(x, mask=None)`` (what ``MAE.extract_feat`` calls) is the plain ``ViT`` forward: ((B, C, h, w), );
- the position embedding is MAE's fixed 2-D sine-cosine one for the (possibly non-square) grid, not learned during
  pre-training, with a zero class row: ViTPose adds that row to every patch, which then changes nothing, so the
  pre-trained encoder computes exactly what the pose model computes on the same tokens.

ViTPose has no class token; MAE's decoder reserves the first latent token for one (it goes through the decoder and
is dropped before the prediction). Here that slot holds the mean of the encoded visible tokens: a summary of the
image, never passed back to the encoder and not part of the checkpoint. Everything else is MAE's.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmpretrain.registry import MODELS

from ..backbones.vit import PRETRAINED_INIT, ViT
from ..layers.masking import num_kept, random_masking
from .grid import sincos_pos_embed


@MODELS.register_module()
class ViTPoseMAE(ViT):
    """ViTPose's plain ViT with MAE's masked forward (registered in mmpretrain's ``MODELS``, for ``type='MAE'``).

    Args:
        img_size: (H, W) pre-training input; the grid is ViTPose's (padding 2): 256x192 -> 16x12, 128x96 -> 8x6.
        patch_size, embed_dim, depth, num_heads, mlp_ratio, qkv_bias, drop_path_rate, use_checkpoint, fused_attn:
            as :class:`vitpose_mm.models.ViT` (MAE pre-trains without drop path).
        mask_ratio: share of patch tokens removed in the masked forward, in [0, 1) (MAE and ViTPose: 0.75).
        init_cfg: mmengine init config (as ``ViT``).

    Raises:
        ValueError: ``mask_ratio`` outside [0, 1) or keeping no token of the grid.
    """

    def __init__(self,
                 img_size: Union[int, Sequence[int]] = (256, 192),
                 patch_size: int = 16,
                 embed_dim: int = 768,
                 depth: int = 12,
                 num_heads: int = 12,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_path_rate: float = 0.,
                 use_checkpoint: bool = False,
                 fused_attn: bool = True,
                 mask_ratio: float = 0.75,
                 init_cfg: Optional[dict] = None):
        super().__init__(img_size=img_size, patch_size=patch_size, embed_dim=embed_dim, depth=depth,
                         num_heads=num_heads, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias, drop_path_rate=drop_path_rate,
                         use_checkpoint=use_checkpoint, fused_attn=fused_attn, init_cfg=init_cfg)
        num_kept(self.patch_shape[0] * self.patch_shape[1], mask_ratio)  # refuses a ratio that keeps nothing
        self.mask_ratio = float(mask_ratio)
        self.pos_embed.requires_grad = False  # fixed during pre-training, as MAE's
        self.pos_embed.data.copy_(sincos_pos_embed(self.patch_shape, embed_dim))

    def init_weights(self) -> None:
        """``ViT``'s (a ``ViTPosePretrained`` init_cfg loads weights); otherwise MAE's: sine-cosine positions and a
        Xavier-uniform patch embedding, as ``MAEViT.init_weights``."""
        super().init_weights()
        if isinstance(self.init_cfg, dict) and self.init_cfg.get('type') == PRETRAINED_INIT:
            return
        self.pos_embed.data.copy_(sincos_pos_embed(self.patch_shape, self.embed_dim))
        w = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))

    def forward(self, x: torch.Tensor, mask: Optional[bool] = True
                ) -> Union[Tuple[torch.Tensor], Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Masked (``mask=True``) or plain (``mask=None``/``False``) forward of (B, 3, H, W) images.

        Returns:
            masked: ``(latent, mask, ids_restore)``: ``latent`` (B, 1 + K, C), the decoder's class-token slot (the
            mean of the K encoded visible tokens) then those tokens in shuffled order; ``mask`` (B, h * w), 1 for
            removed tokens; ``ids_restore`` (B, h * w). Plain: ``ViT``'s ((B, C, h, w), ).

        Raises:
            ValueError: a masked forward at another input size than ``img_size`` (the decoder's positions are those
            of one grid).
        """
        if not mask:
            return super().forward(x)
        tokens, grid = self.patch_embed(x)
        if tuple(grid) != tuple(self.patch_shape):
            raise ValueError(f'masked forward: input {tuple(x.shape[2:])} gives a {grid[0]}x{grid[1]} grid, but the '
                             f'model was built for img_size={self.img_size} ({self.patch_shape[0]}x'
                             f'{self.patch_shape[1]})')
        tokens = tokens + self._pos_embed_for(grid)
        tokens, removed, ids_restore = random_masking(tokens, self.mask_ratio)
        for blk in self.blocks:
            if self.use_checkpoint and self.training and tokens.requires_grad:
                tokens = cp.checkpoint(blk, tokens, None, grid, use_reentrant=False)
            else:
                tokens = blk(tokens, None, grid)
        tokens = self.last_norm(tokens)
        latent = torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)
        return latent, removed, ids_restore


__all__ = ['ViTPoseMAE']
