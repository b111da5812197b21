"""The one way a pose model is loaded from a checkpoint: all or nothing, with a diagnosis when it does not fit.

Every entry point calls :func:`load_checkpoint` (or :func:`load_state_dict` for tensors already in memory): the
runner's ``load_from`` / ``--resume`` / ``--checkpoint`` (``ViTPoseRunner``), ``tools/test.py``, ``tools/demo.py``,
``PoseEstimator``, the distiller's teacher and ``tools/extract_student.py``. The steps:

1. the tensors without DDP's ``module.`` (:func:`.io.state_dict_of`);
2. a checkpoint with exactly the model's keys and shapes, and no recorded grid other than the model's, is loaded
   as it is (this package's own checkpoints, bit for bit);
3. otherwise a wrong kind of checkpoint (pre-training or backbone-only weights, an unconverted ViTPose+ file for a
   plain model, a distillation checkpoint, an unknown layout) is refused with what it is and the fix
   (:mod:`.diagnose`); any other is converted (layout, renames, expert folding with ``dataset``, the one grid rule,
   patch-size adaptation: :mod:`.convert`, :mod:`.adapt`) and checked key by key against the model;
4. the keypoints the checkpoint's head predicts (its ``meta['dataset_meta']``, or the dataset whose head a ViTPose+
   conversion kept) against the config's dataset (``dataset_meta``): other keypoints or flip pairs (an AP-10K model
   in a COCO config: the same 17 channels) are refused (``dataset_check='error'``) or warned about (``'warn'``,
   fine-tuning on another dataset) with both datasets and the fix (:func:`check_dataset`);
5. only then ``model.load_state_dict(strict=True)``: a refused checkpoint leaves every parameter as it was.
"""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from vitpose_mm.models.layers.pos_embed import AmbiguousGridError
from vitpose_mm.models.strict_loading import allow_missing_weights
from .convert import CheckpointMismatchError, Source, convert_checkpoint, fit_to_model
from .diagnose import describe_checkpoint, describe_model, fix_for_kind, mismatch_message
from .hf import read_hf_folder
from .io import load_file, recorded_grid, state_dict_of


DATASET_CHECKS = ('error', 'warn')


@dataclass
class Loaded:
    """What :func:`load_checkpoint` did: the checkpoint as read (``meta``, optimizer ... for ``--resume``), its
    layout, the notes on every tensor changed on the way (empty when loaded as it is), and the metainfo of the
    keypoints its head predicts when known (the file's ``meta['dataset_meta']``, or the dataset a ViTPose+
    conversion kept)."""
    checkpoint: Dict[str, Any]
    layout: str = 'as is'
    notes: List[str] = field(default_factory=list)
    dataset_meta: Optional[dict] = None


def read_checkpoint(path: str) -> Dict[str, Any]:
    """A checkpoint file (weights only, never code), an URL (mmengine's loaders), or an HF ``save_pretrained``
    folder (as ``{'state_dict': ..., 'hf_config': ...}``)."""
    path = os.fspath(path)
    if '://' in path:
        from mmengine.runner import CheckpointLoader
        return CheckpointLoader.load_checkpoint(path, map_location='cpu')
    if osp.isdir(path):
        sd, cfg, _ = read_hf_folder(path)
        return {'state_dict': sd, 'hf_config': cfg}
    obj = load_file(path)
    return obj if isinstance(obj, dict) else {'state_dict': obj}


def load_checkpoint(model: nn.Module, path: str, layout: str = 'auto', dataset: Optional[str] = None,
                    src_grid: Optional[Sequence[int]] = None, patch_padding: str = 'pad',
                    allow_missing: Iterable[str] = (), config: Optional[str] = None,
                    verbose: Optional[bool] = None, dataset_meta: Optional[dict] = None,
                    dataset_check: str = 'error') -> Loaded:
    """Load any pose checkpoint (file, URL or HF folder; any layout) into ``model`` strictly: all or nothing.

    Args:
        model: the pose model (a vitpose_mm ``TopdownPoseEstimator``; other models are loaded by exact keys only).
        path: the checkpoint.
        layout: ``auto`` or a layout name (:data:`vitpose_mm.checkpoints.LAYOUTS`).
        dataset: ViTPose+ files: the dataset whose expert and head to keep (``coco``, ``aic`` ...).
        src_grid: the (h, w) position grid of the weights, when the file does not record it.
        patch_padding: kernel adaptation for weights of another patch size: ``pad``, ``bilinear`` or ``bicubic``.
        allow_missing: model keys the checkpoint may lack (they keep their values).
        config: the model's config name, for the fix in messages.
        verbose: list every key in errors (default: the ``VITPOSE_MM_VERBOSE`` environment variable).
        dataset_meta: the config's dataset metainfo (``parse_pose_metainfo`` format) to check the checkpoint's
            keypoints against (:func:`check_dataset`); None: no check.
        dataset_check: ``'error'`` (refuse a checkpoint of other keypoints or flip pairs) or ``'warn'``.

    Raises:
        FileNotFoundError, RuntimeError: unreadable file. CheckpointMismatchError: it does not fit (what it is, what
        the model is, the fix), or its keypoints are another dataset's (``dataset_check='error'``); nothing was
        loaded. ValueError: ``dataset_check`` not in ``DATASET_CHECKS``.
    """
    path = os.fspath(path)
    if '://' not in path and not osp.exists(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    ckpt = read_checkpoint(path)
    return load_state_dict(model, state_dict_of(ckpt, path), path, ckpt, layout, dataset, src_grid, patch_padding,
                           allow_missing, config, verbose, dataset_meta, dataset_check)


def load_state_dict(model: nn.Module, sd: Dict[str, torch.Tensor], source: str = '<memory>',
                    checkpoint: Optional[Dict[str, Any]] = None, layout: str = 'auto',
                    dataset: Optional[str] = None, src_grid: Optional[Sequence[int]] = None,
                    patch_padding: str = 'pad', allow_missing: Iterable[str] = (), config: Optional[str] = None,
                    verbose: Optional[bool] = None, dataset_meta: Optional[dict] = None,
                    dataset_check: str = 'error') -> Loaded:
    """:func:`load_checkpoint` for tensors in memory (``checkpoint``: the whole file, for its ``meta``)."""
    if dataset_check not in DATASET_CHECKS:
        raise ValueError(f'dataset_check={dataset_check!r}; accepted: {list(DATASET_CHECKS)}')
    checkpoint = checkpoint if checkpoint is not None else {'state_dict': sd}
    recorded = (checkpoint.get('meta') or {}).get('dataset_meta')
    allow_missing = set(allow_missing)
    own = model.state_dict()
    grid = recorded_grid(checkpoint)
    backbone = getattr(model, 'backbone', None)
    model_grid = tuple(backbone.patch_shape) if hasattr(backbone, 'patch_shape') else None
    same_grid = (src_grid or grid) is None or model_grid is None or tuple(src_grid or grid) == model_grid
    if same_grid and layout in ('auto', 'vitpose_mm') and dataset is None and _fits(sd, own, allow_missing):
        check_dataset(recorded, dataset_meta, source, dataset_check)
        with allow_missing_weights(allow_missing):  # the models refuse any other missing key
            model.load_state_dict(with_module_versions(sd, own), strict=not allow_missing)
        return Loaded(checkpoint, dataset_meta=recorded)
    kind = describe_checkpoint(sd, checkpoint.get('meta'))
    if model_grid is None:  # not a ViTPose model: nothing to convert, say what does not fit
        raise _mismatch(source, kind.describe(), type(model).__name__, None, sd, own, allow_missing, verbose)
    fix = fix_for_kind(kind, source, model, config) if layout == 'auto' and dataset is None else None
    if fix is not None:
        raise _mismatch(source, kind.describe(), describe_model(model), fix, sd, own, allow_missing, verbose)
    checked = recorded is not None
    if checked:  # before the shapes: another dataset's head is named as such, not as a keypoint count to change
        check_dataset(recorded, dataset_meta, source, dataset_check)
    src = Source(sd, source, checkpoint.get('hf_config'), grid)
    try:
        conv = convert_checkpoint(src, layout, dataset, keep_experts=bool(getattr(backbone, 'part_features', 0)),
                                  src_grid=src_grid)
        if conv.backbone_only:  # e.g. --src-format mae given for a pose model
            raise ValueError('backbone weights only, no pose head')
        fit_to_model(conv, model, patch_padding, config, allow_missing, verbose)
    except CheckpointMismatchError:
        raise
    except (ValueError, KeyError) as e:
        reason = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        fix = None if isinstance(e, AmbiguousGridError) else fix_for_kind(kind, source, model, config) or (
            f'see what it holds: python tools/convert_checkpoint.py {source} out.pth --config {config or "CONFIG"}')
        raise CheckpointMismatchError(mismatch_message(source, kind.describe(), describe_model(model), fix,
                                                       reason=reason, verbose=verbose)) from e
    if recorded is None and conv.head_dataset is not None:
        recorded = conv.meta()['dataset_meta']
    if not checked:
        check_dataset(recorded, dataset_meta, source, dataset_check)
    with allow_missing_weights(allow_missing):
        model.load_state_dict(with_module_versions(conv.state_dict, own), strict=not allow_missing)
    logger = MMLogger.get_current_instance()
    logger.info(f'loaded {source} ({conv.layout} layout): {len(conv.state_dict)} tensors, {len(conv.dropped)} '
                'dropped')
    for key, reason in conv.dropped.items():
        logger.info(f'  dropped {key}: {reason}')
    for note in conv.notes:
        logger.info(f'  {note}')
    return Loaded(checkpoint, conv.layout, conv.notes, recorded)


def with_module_versions(sd: Dict[str, torch.Tensor], own: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """``sd`` (already in the model's names) carrying the model's own module versions (``state_dict()._metadata``).

    The dicts this loader reads or converts lose torch's ``_metadata``, and a module whose ``_load_from_state_dict``
    hook treats a missing version as an old checkpoint then rewrites good tensors: mmpose 1.3.2's ``DEKRHead``
    rolls the root heatmap channel and negates the displacement weights of any state dict without a version.
    """
    from collections import OrderedDict
    out = OrderedDict(sd)
    metadata = getattr(sd, '_metadata', None) or getattr(own, '_metadata', None)
    if metadata is not None:
        out._metadata = metadata
    return out


def check_dataset(recorded: Optional[dict], expected: Optional[dict], source: str = '<memory>',
                  dataset_check: str = 'error', export: bool = False) -> None:
    """Refuse (``'error'``) or warn about (``'warn'``) a checkpoint whose head predicts other keypoints than the
    config's dataset defines: keypoint names in channel order or flip pairs differ (an AP-10K model in a COCO config
    has the same 17 channels, but other keypoints and flip pairs). Datasets that share a keypoint definition pass
    (a COCO model for OCHuman, AP-10K for APT-36K). Nothing to check when either side is unknown.

    Args:
        recorded: the checkpoint's ``meta['dataset_meta']`` (mmpose's ``parse_pose_metainfo`` format).
        expected: the config's dataset metainfo (same format).
        source: the checkpoint, for the message.
        dataset_check: ``'error'`` or ``'warn'``.
        export: ``source`` is an ONNX export (evaluated, never fine-tuned): the messages say so.

    Raises:
        CheckpointMismatchError: other keypoints and ``dataset_check='error'``.
    """
    if recorded is None or expected is None:
        return
    names = [_keypoint_names(m) for m in (recorded, expected)]
    flips = [list(m.get('flip_indices') or []) or None for m in (recorded, expected)]
    if None in names or (names[0] == names[1] and (None in flips or flips[0] == flips[1])):
        return
    got, want = (m.get('dataset_name', '?') for m in (recorded, expected))
    what = (f'{source} predicts the keypoints of dataset {got!r} ({_describe(names[0])}), but the config\'s '
            f'dataset is {want!r} ({_describe(names[1])})' +
            (': the same channels with other flip pairs' if names[0] == names[1] else '') + '.')
    read_as = (f'Tested or run with this config, its channels would be read as {want!r} keypoints and flipped '
               f'with the flip pairs of {want!r}.')
    if export and dataset_check == 'error':
        raise CheckpointMismatchError(
            f'{what} {read_as} Fix: evaluate it with a config of {got!r}{_example(got)}; to run it anyway, '
            '--cfg-options checkpoint_loading.dataset_check=warn.')
    if export:
        MMLogger.get_current_instance().warning(f'{what} {read_as} Evaluated anyway (dataset_check=warn).')
        return
    if dataset_check == 'error':
        raise CheckpointMismatchError(
            f'{what} {read_as} Fix: use a config of {got!r}{_example(got)}; to fine-tune it '
            f'on {want!r}, load it with load_from in a training run (a warning there); to run it anyway, '
            "--cfg-options checkpoint_loading.dataset_check=warn (tools/test.py, the runner) or "
            "dataset_check='warn' (load_checkpoint).")
    MMLogger.get_current_instance().warning(
        f'{what} Its head starts from {got!r} keypoints: right for fine-tuning on {want!r}; to test or run it, use a '
        f'config of {got!r}{_example(got)}.')


def _keypoint_names(meta: dict) -> Optional[List[str]]:
    id2name = meta.get('keypoint_id2name')
    if not id2name:
        return None
    return [id2name[i] for i in sorted(id2name, key=int)]


def _describe(names: List[str]) -> str:
    return f'{len(names)} keypoints: ' + ', '.join(names[:4]) + (', ...' if len(names) > 4 else '')


def _example(dataset_name: str) -> str:
    from vitpose_mm.datasets.facts import POSE_DATASETS
    folder = next((f.name for f in POSE_DATASETS.values() if f.dataset_name == dataset_name), None)
    return f' (configs/{folder}/)' if folder else ''


def _fits(sd: Dict[str, torch.Tensor], own: Dict[str, torch.Tensor], allow_missing: set) -> bool:
    return set(sd) <= set(own) and set(own) - set(sd) <= allow_missing and \
        all(sd[k].shape == own[k].shape for k in sd)


def _mismatch(source: str, checkpoint: str, model: str, fix: Optional[str], sd: Dict[str, torch.Tensor],
              own: Dict[str, torch.Tensor], allow_missing: set, verbose: Optional[bool]) -> CheckpointMismatchError:
    missing = [k for k in own if k not in sd and k not in allow_missing]
    surplus = [k for k in sd if k not in own]
    shapes = [f'{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}' for k in sd
              if k in own and sd[k].shape != own[k].shape]
    return CheckpointMismatchError(mismatch_message(source, checkpoint, model, fix, missing, surplus, shapes,
                                                    verbose=verbose))


__all__ = ['DATASET_CHECKS', 'Loaded', 'check_dataset', 'load_checkpoint', 'load_state_dict', 'read_checkpoint']
