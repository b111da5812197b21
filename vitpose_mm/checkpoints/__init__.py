"""Checkpoint reading and conversion between the public ViT/ViTPose layouts."""
from .backbone import convert_backbone_state_dict, detect_backbone_layout, load_backbone_weights
from .io import load_file, state_dict_of

__all__ = ['load_file', 'state_dict_of', 'convert_backbone_state_dict', 'detect_backbone_layout',
           'load_backbone_weights']
