"""What sharded (FSDP) training of the ViT needs from this package: the wrap policy, one FSDP unit per block.

Used through mmengine's ``FlexibleRunner`` (here :class:`vitpose_mm.engine.ViTPoseFlexibleRunner`) and its
``FSDPStrategy``; see ``configs/vitpose_g/*fsdp*.py`` and docs/training.md. The layer-decay constructor reads the
original parameter shapes under FSDP (``engine/optim_wrappers/layer_decay_constructor.py``).
"""
from mmengine.registry import FUNCTIONS
from torch import nn

from vitpose_mm.models.layers import Block


@FUNCTIONS.register_module()
def vit_block_wrap_policy(module: nn.Module, recurse: bool, nonwrapped_numel: int) -> bool:
    """FSDP ``auto_wrap_policy``: every transformer block of the ViT (and its ViTPose+ MoE MLPs with it) is its own
    FSDP unit; the embeddings, ``last_norm`` and the head stay in the root unit. Config:
    ``model_wrapper=dict(auto_wrap_policy=dict(type='vit_block_wrap_policy'), use_orig_params=True)``."""
    return True if recurse else isinstance(module, Block)
