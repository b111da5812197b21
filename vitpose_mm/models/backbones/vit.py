# References: ViTAE-Transformer/ViTPose mmpose/models/backbones/vit.py and vit_moe.py (architecture and parameter
# names), timm vision_transformer.py (module shapes, fused-attention switch).
"""The plain ViT backbone of ViTPose and ViTPose+.

How it differs from a plain (timm/MAE) ViT, on purpose, so that official ViTPose weights load by name and give the
official numbers:

- patch embedding ``Conv2d(3, C, 16, stride=16, padding=2)``: a 256x192 input gives a 16x12 grid;
- there is no class token in the sequence, but ``pos_embed`` keeps its class-token row, and that row is **added to
  every patch** (``pos_embed[:, 1:] + pos_embed[:, :1]``);
- a final ``last_norm`` and a (B, C, Hp, Wp) feature map as output;
- optional, from the paper (section 4.3) but never released: ``ratio=2`` (1/8 features) and window, shifted-window
  and pooling-window attention per block (``window_size``, ``shift``, ``pool``, ``global_blocks``, ``use_rel_pos``;
  docs/attention.md), all loading plain weights;
- ViTPose+ (``part_features > 0``): each MLP's ``fc2`` produces ``C - part_features`` shared channels and one of
  ``num_expert`` extra ``Linear(hidden, part_features)`` experts, chosen per sample by ``dataset_source``, the rest.

Extra tokens (this package's addition, for knowledge-token distillation): ``num_extra_tokens > 0`` adds a parameter
``extra_tokens`` of shape (1, n, C), learned or frozen (``extra_tokens_trainable``); ``forward(x, extra_tokens=T)``
takes tokens from outside instead. They are appended after the patch tokens once the position embedding has been
added (they get no position), go through every block, and are dropped before ``last_norm``: the output is still
the (B, C, Hp, Wp) patch grid. With ``num_extra_tokens=0`` (the default) nothing changes, neither the outputs nor the
checkpoint keys.
"""
from typing import List, Optional, Sequence, Set, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model.weight_init import trunc_normal_
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.registry import MODELS

from vitpose_mm.models.layers.pos_embed import resize_pos_embed
from vitpose_mm.models.strict_loading import refuse_missing_weights
from ..layers import (Attention, Block, DropPath, Mlp, MoEMlp, PatchEmbed, official_padding,
                      plan_block_attention)
from ..layers import to_2tuple as _pair
from .expert_index import check_dataset_source, warn_unrouted_training


PRETRAINED_INIT = 'ViTPosePretrained'  # the weight initializer (registered by vitpose_mm.checkpoints) of a ViT


@MODELS.register_module()
class ViT(BaseBackbone):
    """ViTPose / ViTPose+ plain vision transformer backbone.

    Args:
        img_size: input (H, W) the position embedding is made for; other sizes resample it on the fly.
        patch_size: patch size. ratio: official patch-overlap ratio (1 in every released model; 2 gives the
            paper's 1/8 features: 16x16 patches with stride 8, a 256x192 input gives a 32x24 grid).
        embed_dim, depth, num_heads, mlp_ratio, qkv_bias, qk_scale: transformer dimensions.
        drop_rate, attn_drop_rate, drop_path_rate: dropout rates; drop path rises linearly over the blocks.
        use_checkpoint: gradient checkpointing of every block (saves memory in training, costs a recompute).
        frozen_stages: -1 freezes nothing, 0 freezes patch_embed and pos_embed, k > 0 also blocks 0..k-1.
            (The official code freezes blocks 1..k, skipping block 0; nothing released uses it.)
        last_norm: apply the final LayerNorm. patch_padding: 'pad' (the only official mode).
        freeze_attn, freeze_ffn: freeze every block's attention (with norm1) or MLP (with norm2, patch embedding
            and pos_embed), as the official options do.
        num_expert, part_features: ViTPose+ experts; ``part_features=0`` builds the plain MLP.
        default_dataset: expert used when ``forward`` gets no ``dataset_source``.
        num_extra_tokens: extra tokens carried through the blocks (0: none, and no ``extra_tokens`` parameter).
        extra_tokens_trainable: whether ``extra_tokens`` is learned (True) or frozen (False).
        fused_attn: use ``F.scaled_dot_product_attention`` (True) or the written-out attention (False).
        window_size, shift, pool, global_blocks, use_rel_pos: the attention of each block (paper section 4.3,
            docs/attention.md). ``window_size=None`` (default): full attention in every block, the released model.
            Otherwise (h, w) windows of the patch grid (an int for square ones) in every block but those listed
            in ``global_blocks``; ``shift`` shifts the windows of odd blocks by half a window (Swin), ``pool``
            appends each window's mean token to every window's keys and values, ``use_rel_pos`` adds ViTDet's
            decomposed relative position (zero-initialised; plain checkpoints load without it). The resulting
            per-block choice is ``block_attention``; see :func:`vitpose_mm.models.layers.plan_block_attention`.
        init_cfg: mmengine init config. Pre-training weights: ``dict(type='ViTPosePretrained', checkpoint=PATH[,
            prefix, src_grid, patch_padding])`` (registered by ``vitpose_mm.checkpoints``: MAE/timm, mmpretrain
            or ViTPose layouts, strictly, with the position grid resampled and the patch kernel adapted). The ViT
            itself knows no checkpoint layout, and refuses mmengine's ``Pretrained`` (non-strict: keys it cannot place
            and a position embedding of another grid are skipped with a warning only).

    Raises:
        ValueError: inconsistent dimensions, and ``init_cfg`` of type ``Pretrained``.
    """

    def __init__(self,
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 16,
                 in_channels: int = 3,
                 embed_dim: int = 768,
                 depth: int = 12,
                 num_heads: int = 12,
                 ratio: int = 1,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = False,
                 qk_scale: Optional[float] = None,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 use_checkpoint: bool = False,
                 frozen_stages: int = -1,
                 last_norm: bool = True,
                 patch_padding: str = 'pad',
                 freeze_attn: bool = False,
                 freeze_ffn: bool = False,
                 num_expert: int = 1,
                 part_features: int = 0,
                 default_dataset: int = 0,
                 num_extra_tokens: int = 0,
                 extra_tokens_trainable: bool = True,
                 fused_attn: bool = True,
                 window_size: Union[None, int, Sequence[int]] = None,
                 shift: bool = False,
                 pool: bool = False,
                 global_blocks: Sequence[int] = (),
                 use_rel_pos: bool = False,
                 init_cfg: Optional[dict] = None):
        for cfg in (init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]):
            if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
                raise ValueError(f"ViT init_cfg={dict(cfg)}: use type='{PRETRAINED_INIT}' (strict, resamples the "
                                 "position grid); mmengine's 'Pretrained' loads non-strictly")
        super().__init__(init_cfg=init_cfg)
        refuse_missing_weights(self)  # whichever runner loads it (models/strict_loading.py)
        if patch_padding != 'pad':
            raise ValueError(f"patch_padding={patch_padding!r}: only 'pad' (the official mode) is supported")
        if embed_dim % num_heads:
            raise ValueError(f'embed_dim={embed_dim} is not divisible by num_heads={num_heads}')
        if not -1 <= frozen_stages <= depth:
            raise ValueError(f'frozen_stages must be in [-1, depth={depth}], got {frozen_stages}')
        if not 0 <= default_dataset < num_expert:
            raise ValueError(f'default_dataset={default_dataset} is not an expert index (num_expert={num_expert})')
        if isinstance(num_extra_tokens, bool) or not isinstance(num_extra_tokens, int) or num_extra_tokens < 0:
            raise ValueError(f'num_extra_tokens must be an int >= 0, got {num_extra_tokens!r}')
        self.img_size = _pair(img_size)
        self.embed_dim = embed_dim
        self.depth = depth
        self.frozen_stages = frozen_stages
        self.freeze_attn = freeze_attn
        self.freeze_ffn = freeze_ffn
        self.use_checkpoint = use_checkpoint
        self.default_dataset = default_dataset
        self.num_expert = num_expert
        self.part_features = part_features

        self.patch_embed = PatchEmbed(patch_size, in_channels, embed_dim, ratio, padding=official_padding(ratio))
        self.patch_shape = self._grid_for(self.img_size)
        probe = tuple(4 * k for k in self.patch_embed.proj.kernel_size)  # 4x4 patches must give a 4r x 4r grid
        if self._grid_for(probe) != (4 * ratio, 4 * ratio):
            raise ValueError(f'ratio={ratio}: with the official padding {official_padding(ratio)} a {probe[0]}x'
                             f'{probe[1]} input gives a {self._grid_for(probe)} grid, not {4 * ratio}x{4 * ratio}; '
                             f'use ratio 1, 2 or 4 (for 16x16 patches)')
        # None: full attention; a dict: WindowAttention arguments. One entry per block.
        self.block_attention: List[Optional[dict]] = plan_block_attention(
            depth, self.patch_shape, window_size, shift, pool, global_blocks, use_rel_pos)
        # One row more than patches: the official class-token row, added to every patch in forward().
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.patch_shape[0] * self.patch_shape[1], embed_dim))
        self.num_extra_tokens = num_extra_tokens
        if num_extra_tokens:  # registered only when used, so that plain checkpoints keep their keys
            self.extra_tokens = nn.Parameter(torch.zeros(1, num_extra_tokens, embed_dim),
                                             requires_grad=extra_tokens_trainable)
            with torch.random.fork_rng(devices=[]):  # the global stream stays that of a ViT without tokens
                trunc_normal_(self.extra_tokens, std=.02)
        dpr = torch.linspace(0, drop_path_rate, depth, device='cpu').tolist()  # cpu: also under torch.device('meta')
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, qk_scale, drop_rate, attn_drop_rate, dpr[i],
                  num_expert=num_expert, part_features=part_features, fused_attn=fused_attn,
                  window=self.block_attention[i]) for i in range(depth))
        self.last_norm = nn.LayerNorm(embed_dim, eps=1e-6) if last_norm else nn.Identity()
        trunc_normal_(self.pos_embed, std=.02)
        self.apply(self._init_module)
        self._freeze_stages()

    # ---- construction helpers ---------------------------------------------------------------------------
    def _grid_for(self, hw: Tuple[int, int]) -> Tuple[int, int]:
        return self.patch_embed.grid_for(hw)

    @staticmethod
    def _init_module(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.constant_(m.bias, 0)
            nn.init.constant_(m.weight, 1.0)

    # ---- what the model tells the optimizer --------------------------------------------------------------
    def no_weight_decay(self) -> Set[str]:
        # no `cls_token`: ViTPose has no class token (the official `cls_token` is dropped at loading)
        return {'pos_embed', 'extra_tokens'}

    def get_layer_depth(self, param_name: str, prefix: str = 'backbone.') -> Tuple[int, int]:
        """Layer id for layer-wise lr decay: 0 for the embeddings (and extra tokens), i+1 for block i, depth+1 for
        the rest."""
        max_id = self.depth + 1
        if not param_name.startswith(prefix):
            return max_id, max_id
        name = param_name[len(prefix):]
        if name.startswith(('patch_embed', 'pos_embed', 'extra_tokens')):
            return 0, max_id
        if name.startswith('blocks.'):
            return int(name.split('.')[1]) + 1, max_id
        return max_id, max_id

    # ---- forward -----------------------------------------------------------------------------------------
    def _pos_embed_for(self, grid: Tuple[int, int]) -> torch.Tensor:
        pos = self.pos_embed
        if tuple(grid) != tuple(self.patch_shape):
            pos = resize_pos_embed(pos, self.patch_shape, grid, num_extra_tokens=1)
        return pos[:, 1:] + pos[:, :1]

    def _extra_tokens_for(self, batch: int, extra_tokens: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        """The (B, n, C) tokens to append: ``extra_tokens`` when given, else the own ones, else None."""
        tokens = extra_tokens if extra_tokens is not None else getattr(self, 'extra_tokens', None)
        if tokens is None:
            return None
        if tokens.dim() == 2:
            tokens = tokens.unsqueeze(0)
        if tokens.dim() != 3 or tokens.shape[-1] != self.embed_dim or tokens.shape[0] not in (1, batch):
            raise ValueError(f'extra tokens must have shape (n, {self.embed_dim}), (1, n, {self.embed_dim}) or '
                             f'({batch}, n, {self.embed_dim}), got {tuple(tokens.shape)}')
        return tokens.expand(batch, -1, -1)

    def forward(self,
                x: torch.Tensor,
                dataset_source: Optional[torch.Tensor] = None,
                extra_tokens: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor]:
        """(B, 3, H, W) images -> ((B, C, Hp, Wp), ); ``extra_tokens`` replaces the own extra tokens for this call."""
        B = x.shape[0]
        if self.part_features or dataset_source is not None:  # MoE MLPs need a source, also with one expert
            if dataset_source is None:
                if self.training and self.num_expert > 1 and not getattr(self, '_warned_unrouted', False):
                    warn_unrouted_training(self.num_expert, self.default_dataset)
                    self._warned_unrouted = True
                dataset_source = torch.full((B, ), self.default_dataset, dtype=torch.long, device=x.device)
            dataset_source = check_dataset_source(dataset_source, B, self.num_expert, x.device)
        x, (hp, wp) = self.patch_embed(x)
        x = x + self._pos_embed_for((hp, wp))
        tokens = self._extra_tokens_for(B, extra_tokens)
        if tokens is not None:
            x = torch.cat([x, tokens.to(x.dtype)], dim=1)
        for blk in self.blocks:
            if self.use_checkpoint and self.training and x.requires_grad:
                x = cp.checkpoint(blk, x, dataset_source, (hp, wp), use_reentrant=False)
            else:
                x = blk(x, dataset_source, (hp, wp))
        x = self.last_norm(x[:, :hp * wp])  # the extra tokens end here; the decoder sees only the patch grid
        return (x.transpose(1, 2).reshape(B, -1, hp, wp).contiguous(), )

    # ---- freezing ----------------------------------------------------------------------------------------
    def _freeze(self, *modules: nn.Module) -> None:
        for m in modules:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0 or self.freeze_ffn:
            self._freeze(self.patch_embed)
            self.pos_embed.requires_grad = False
        for i in range(max(self.frozen_stages, 0)):
            self._freeze(self.blocks[i])
        for blk in self.blocks:
            if self.freeze_attn:
                self._freeze(blk.attn, blk.norm1)
            if self.freeze_ffn:
                self._freeze(blk.mlp, blk.norm2)

    def train(self, mode: bool = True) -> 'ViT':
        super().train(mode)
        self._freeze_stages()
        return self


__all__ = ['ViT', 'Attention', 'Block', 'DropPath', 'Mlp', 'MoEMlp', 'PatchEmbed']
