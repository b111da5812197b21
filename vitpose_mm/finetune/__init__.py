"""Fine-tuning ViTPose on a COCO-format dataset of other keypoints, and adding a dataset to a ViTPose+ model
(``tools/finetune.py``, docs/finetune.md). Not imported by ``import vitpose_mm``."""
from .errors import FinetuneError
from .metainfo import build_dataset_info, read_keypoint_annotations, resolve_flip_pairs, write_dataset_info
from .names import infer_flip_pairs, mirror_name, normal_name, parse_flip_pairs
from .run import FinetuneArgs, finetune, prepare, write
from .weights import copy_channels_by_name

__all__ = ['FinetuneError', 'FinetuneArgs', 'finetune', 'prepare', 'write', 'read_keypoint_annotations',
           'resolve_flip_pairs', 'build_dataset_info', 'write_dataset_info', 'infer_flip_pairs', 'mirror_name',
           'normal_name', 'parse_flip_pairs', 'copy_channels_by_name']
