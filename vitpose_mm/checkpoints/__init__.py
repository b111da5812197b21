"""Checkpoint reading, conversion between the public ViT/ViTPose layouts, and the one loading path
(docs/checkpoints.md)."""
from .adapt import PATCH_PADDING_MODES, adapt_patch_kernel, fit_embeddings
from .arch import Arch, infer_arch
from .backbone import convert_backbone_state_dict, detect_backbone_layout, load_backbone_weights
from .convert import (CheckpointMismatchError, Conversion, convert_checkpoint, convert_state_dict, fit_to_model,
                      read_source, save_checkpoint, save_hf)
from .diagnose import CheckpointKind, describe_checkpoint
from .io import grid_record, load_file, recorded_grid, state_dict_of, strip_module_prefix
from .layouts import DATASETS, LAYOUTS, detect_layout, from_vitpose_mm, to_vitpose_mm
from .load import Loaded, load_checkpoint, load_state_dict, read_checkpoint
from .student import extract_student, write_student

__all__ = ['load_file', 'state_dict_of', 'strip_module_prefix', 'recorded_grid', 'grid_record',
           'convert_backbone_state_dict', 'detect_backbone_layout', 'load_backbone_weights', 'Arch', 'infer_arch',
           'CheckpointMismatchError', 'Conversion', 'convert_checkpoint', 'convert_state_dict', 'fit_to_model',
           'read_source', 'save_checkpoint', 'save_hf', 'DATASETS', 'LAYOUTS', 'detect_layout', 'from_vitpose_mm',
           'to_vitpose_mm', 'PATCH_PADDING_MODES', 'adapt_patch_kernel', 'fit_embeddings', 'CheckpointKind',
           'describe_checkpoint', 'Loaded', 'load_checkpoint', 'load_state_dict', 'read_checkpoint', 'extract_student',
           'write_student']
