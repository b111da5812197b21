"""MAE pre-training of ViTPose on pose data, on mmpretrain's ``MAE`` (docs/mae.md).

Not imported by ``import vitpose_mm`` (it imports mmpretrain's models): the pre-training configs import it with
``custom_imports=dict(imports=['vitpose_mm', 'vitpose_mm.models.mae'])``. It registers ``ViTPoseMAE``,
``ViTPoseMAEDecoder`` and ``ViTPoseMAEHead`` in mmpretrain's ``MODELS``.
"""
from .decoder import ViTPoseMAEDecoder, ViTPoseMAEHead
from .encoder import ViTPoseMAE
from .grid import patchify, sincos_pos_embed, unpatchify

__all__ = ['ViTPoseMAE', 'ViTPoseMAEDecoder', 'ViTPoseMAEHead', 'patchify', 'sincos_pos_embed', 'unpatchify']
