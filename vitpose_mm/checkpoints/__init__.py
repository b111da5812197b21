"""The one checkpoint loader (docs/checkpoints.md): :func:`convert` (any public layout -> this model's state dict,
pure), :func:`load` (every caller's way in: all or nothing) and the weight initializers that configs name
(``ViTPosePretrained``, ``ViTPoseCheckpoint``).

Importing this package loads only the loader. Conversion-only modules are imported on use: ``convert_file`` (the
converter's driver, file reading and writing), ``hf`` (HF folders), ``arch`` (what the weights describe, the config
that builds them), ``student`` (distillation students), ``multi_dataset`` (ViTPose+ per-dataset export) and
``diagnose`` (what a checkpoint is; run when loading fails).
Their public names stay importable from here (loaded when first used).
"""
import importlib

from .adapt import PATCH_PADDING_MODES, adapt_patch_kernel, fit_embeddings
from .backbone import convert_backbone_state_dict, detect_backbone_layout
from .conversion import (CheckpointMismatchError, Conversion, check_fits, convert, convert_state_dict, fit_to_model,
                      official_to_multi_dataset)
from .init import ViTPoseCheckpointInit, ViTPosePretrainedInit, read_state_dict
from .io import (atomic_path, grid_record, load_file, read_checkpoint, recorded_grid, state_dict_of,
                 strip_module_prefix)
from .layouts import DATASETS, LAYOUTS, detect_layout, from_vitpose_mm, to_vitpose_mm
from .loading import Loaded, check_dataset, load, load_backbone_weights, load_checkpoint, load_state_dict

# public names of the conversion-only modules: name -> module, imported on first use (PEP 562)
_LAZY = dict(Arch='arch', infer_arch='arch', convert_checkpoint='convert_file', read_source='convert_file', save_checkpoint='convert_file',
             save_hf='convert_file', Source='convert_file', CheckpointKind='diagnose',
             describe_checkpoint='diagnose', extract_student='student', write_student='student')


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f'{__name__}.{_LAZY[name]}'), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['load', 'convert', 'Loaded', 'Conversion', 'CheckpointMismatchError', 'check_fits', 'fit_to_model',
           'convert_state_dict', 'official_to_multi_dataset', 'load_checkpoint', 'load_state_dict',
           'load_backbone_weights', 'check_dataset', 'ViTPosePretrainedInit', 'ViTPoseCheckpointInit',
           'read_state_dict', 'load_file', 'read_checkpoint', 'state_dict_of', 'strip_module_prefix',
           'recorded_grid', 'grid_record', 'atomic_path', 'convert_backbone_state_dict', 'detect_backbone_layout',
           'DATASETS', 'LAYOUTS', 'detect_layout', 'from_vitpose_mm', 'to_vitpose_mm',
           'PATCH_PADDING_MODES', 'adapt_patch_kernel', 'fit_embeddings', *_LAZY]
