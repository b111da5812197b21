"""Checkpoint reading and conversion between the public ViT/ViTPose layouts (docs/checkpoints.md)."""
from .arch import Arch, infer_arch
from .backbone import convert_backbone_state_dict, detect_backbone_layout, load_backbone_weights
from .convert import (CheckpointMismatchError, Conversion, convert_checkpoint, convert_state_dict, fit_to_model,
                      load_checkpoint, read_source, save_checkpoint, save_hf)
from .io import load_file, state_dict_of
from .layouts import DATASETS, LAYOUTS, detect_layout, from_vitpose_mm, to_vitpose_mm

__all__ = ['load_file', 'state_dict_of', 'convert_backbone_state_dict', 'detect_backbone_layout',
           'load_backbone_weights', 'Arch', 'infer_arch', 'CheckpointMismatchError', 'Conversion',
           'convert_checkpoint', 'convert_state_dict', 'fit_to_model', 'load_checkpoint', 'read_source',
           'save_checkpoint', 'save_hf', 'DATASETS', 'LAYOUTS', 'detect_layout', 'from_vitpose_mm', 'to_vitpose_mm']
