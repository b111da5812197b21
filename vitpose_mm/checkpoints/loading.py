"""The one way weights get into a model: :func:`load`, all or nothing, with a diagnosis only when they do not fit.

Every entry point calls :func:`load`: the runner's ``load_from`` / ``--resume`` / ``--checkpoint``
(``ViTPoseRunner``), ``tools/test.py``, ``tools/demo.py``, ``PoseEstimator``, the ``ViTPosePretrained`` /
``ViTPoseCheckpoint`` weight initializers (a backbone's ``init_cfg``, the distiller's teacher; :mod:`.init`) and the
tools. The steps:

1. the tensors without DDP's ``module.`` (:func:`.io.state_dict_of`);
2. a checkpoint with exactly the model's keys and shapes, and no recorded grid other than the model's, is loaded
   as it is (this package's own checkpoints, bit for bit);
3. otherwise it is converted (:func:`.convert.convert`: layout, renames, expert folding with ``dataset``, the one
   grid rule, patch-size adaptation) and checked key by key against the model; when that fails, the diagnosis
   (:mod:`.diagnose`) says what the checkpoint is and the fix;
4. the keypoints the checkpoint's head predicts (its ``meta['dataset_meta']``, or the dataset whose head a ViTPose+
   conversion kept) against the config's dataset (``dataset_meta``): other keypoints or flip pairs (an AP-10K model
   in a COCO config: the same 17 channels) are refused (``dataset_check='error'``) or warned about (``'warn'``,
   fine-tuning on another dataset) with both datasets and the fix (:func:`check_dataset`);
5. only then ``model.load_state_dict(strict=True)``: a refused checkpoint leaves every parameter as it was.

A bare ``ViT`` (pre-training init) takes the backbone part of any layout; only ``last_norm``, ``extra_tokens``
and window attention's relative-position tables may be missing (they keep their initial values).
"""
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import MMLogger

from vitpose_mm.models.layers.pos_embed import AmbiguousGridError
from vitpose_mm.models.strict_loading import allow_missing_weights
from .adapt import PATCH_PADDING_MODES
from .conversion import CheckpointMismatchError, _is_vit, check_fits, convert
from .io import read_checkpoint, recorded_grid, state_dict_of

DATASET_CHECKS = ('error', 'warn')
Checkpoint = Union[str, os.PathLike, Dict[str, Any]]


@dataclass
class Loaded:
    """What :func:`load` did: the checkpoint as read (``meta``, optimizer ... for ``--resume``), its layout, the
    notes on every tensor changed on the way (empty when loaded as it is), the source keys dropped with their
    reason, and the metainfo of the keypoints its head predicts when known (the file's ``meta['dataset_meta']``,
    or the dataset a ViTPose+ conversion kept)."""
    checkpoint: Dict[str, Any]
    layout: str = 'as is'
    notes: List[str] = field(default_factory=list)
    dataset_meta: Optional[dict] = None
    dropped: Dict[str, str] = field(default_factory=dict)


def load(model: nn.Module, checkpoint: Checkpoint, layout: str = 'auto', dataset: Optional[str] = None,
         src_grid: Optional[Sequence[int]] = None, patch_padding: str = 'pad', prefix: Optional[str] = None,
         allow_missing: Iterable[str] = (), resample: bool = True, config: Optional[str] = None,
         verbose: Optional[bool] = None, dataset_meta: Optional[dict] = None, dataset_check: str = 'error',
         source: Optional[str] = None) -> Loaded:
    """Load any checkpoint (file, URL, HF folder or a dict in memory; any layout) into ``model`` strictly.

    Args:
        model: a pose model (a vitpose_mm/mmpose ``TopdownPoseEstimator``, ViTPose+'s multi-dataset estimator;
            other models are loaded by exact keys only) or a bare ``ViT`` (pre-training or backbone weights).
        checkpoint: a path, URL or HF ``save_pretrained`` folder, or a checkpoint dict (``{'state_dict': ...,
            'meta': ...}``) or state dict in memory.
        layout: ``auto`` or a layout name (:data:`vitpose_mm.checkpoints.LAYOUTS`).
        dataset: ViTPose+ files: the dataset whose expert and head to keep (``coco``, ``aic`` ...).
        src_grid: the (h, w) position grid of the weights, when the file does not record it.
        patch_padding: kernel adaptation for weights of another patch size: ``pad``, ``bilinear`` or ``bicubic``.
        prefix: bare ``ViT``: the key prefix of the backbone in the file (default ``backbone.`` when present).
        allow_missing: model keys the checkpoint may lack (they keep their values).
        resample: False refuses a checkpoint made for another position grid (a trained teacher) instead of
            resampling it.
        config: the model's config name, for the fix in messages.
        verbose: list every key in errors (default: the ``VITPOSE_MM_VERBOSE`` environment variable).
        dataset_meta: the config's dataset metainfo (``parse_pose_metainfo`` format) to check the checkpoint's
            keypoints against (:func:`check_dataset`); None: no check.
        dataset_check: ``'error'`` (refuse a checkpoint of other keypoints or flip pairs) or ``'warn'``.
        source: the name of an in-memory checkpoint in messages.

    Raises:
        FileNotFoundError, RuntimeError: unreadable file. CheckpointMismatchError (a ValueError and RuntimeError):
        it does not fit (what it is, what the model is, the fix), or its keypoints are another dataset's
        (``dataset_check='error'``); nothing was loaded. ValueError: ``dataset_check`` or ``patch_padding`` unknown.
    """
    if dataset_check not in DATASET_CHECKS:
        raise ValueError(f'dataset_check={dataset_check!r}; accepted: {list(DATASET_CHECKS)}')
    if patch_padding not in PATCH_PADDING_MODES:
        raise ValueError(f'patch_padding must be one of {PATCH_PADDING_MODES}, got {patch_padding!r}')
    ckpt, sd, source = _read(checkpoint, source)
    if _is_vit(model):
        return _load_backbone(model, sd, ckpt, source, prefix, src_grid, patch_padding)
    if not resample:
        _refuse_other_grid(model, sd, ckpt, source, config)
    return _load_pose(model, sd, ckpt, source, layout, dataset, src_grid, patch_padding, set(allow_missing), config,
                      verbose, dataset_meta, dataset_check)


def _read(checkpoint: Checkpoint, source: Optional[str]) -> Tuple[Dict[str, Any], Dict[str, torch.Tensor], str]:
    if isinstance(checkpoint, dict):
        source = source or '<memory>'
        tensors = checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values())
        ckpt = {'state_dict': checkpoint} if tensors else checkpoint
        return ckpt, state_dict_of(ckpt, source), source
    path = os.fspath(checkpoint)
    if '://' not in path and not osp.exists(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    ckpt = read_checkpoint(path)
    return ckpt, state_dict_of(ckpt, path), source or path


def _load_pose(model, sd, ckpt, source, layout, dataset, src_grid, patch_padding, allow_missing, config, verbose,
               dataset_meta, dataset_check) -> Loaded:
    recorded = (ckpt.get('meta') or {}).get('dataset_meta')
    own = model.state_dict()
    grid = recorded_grid(ckpt)
    backbone = getattr(model, 'backbone', None)
    model_grid = tuple(backbone.patch_shape) if hasattr(backbone, 'patch_shape') else None
    same_grid = (src_grid or grid) is None or model_grid is None or tuple(src_grid or grid) == model_grid
    if same_grid and layout in ('auto', 'vitpose_mm') and dataset is None and _fits(sd, own, allow_missing):
        check_dataset(recorded, dataset_meta, source, dataset_check)
        with allow_missing_weights(allow_missing):  # the models refuse any other missing key
            model.load_state_dict(with_module_versions(sd, own), strict=not allow_missing)
        return Loaded(ckpt, dataset_meta=recorded)
    checked = recorded is not None
    if checked:  # before the shapes: another dataset's head is named as such, not as a keypoint count to change
        check_dataset(recorded, dataset_meta, source, dataset_check)
    try:
        if model_grid is None:  # not a ViTPose model: nothing to convert
            raise CheckpointMismatchError(f'{source} does not fit {type(model).__name__}')
        conv = convert(sd, model, layout, dataset, ckpt.get('hf_config'), grid, src_grid, patch_padding,
                       source=source)
        if conv.backbone_only and not hasattr(model, 'heads'):  # e.g. layout='mae' given for a pose model
            raise ValueError('backbone weights only, no pose head')
        check_fits(conv, model, config, allow_missing, verbose)
    except (ValueError, KeyError) as e:
        raise _diagnosis(e, model, sd, own, ckpt, source, layout, dataset, allow_missing, config, verbose) from e
    if recorded is None and conv.head_dataset is not None:
        recorded = conv.meta()['dataset_meta']
    if not checked:
        check_dataset(recorded, dataset_meta, source, dataset_check)
    with allow_missing_weights(allow_missing):
        model.load_state_dict(with_module_versions(conv.state_dict, own), strict=not allow_missing)
    _log_loaded(source, f'{conv.layout} layout', len(conv.state_dict), conv.dropped, conv.notes)
    return Loaded(ckpt, conv.layout, conv.notes, recorded, conv.dropped)


def _diagnosis(error: Exception, model, sd, own, ckpt, source, layout, dataset, allow_missing, config,
               verbose) -> CheckpointMismatchError:
    """The error to raise when a checkpoint does not load: what it is, what the model is and the fix. Runs only
    after a failure (:mod:`.diagnose`)."""
    from .diagnose import describe_checkpoint, describe_model, fix_for_kind, mismatch_message
    kind = describe_checkpoint(sd, ckpt.get('meta'))
    if not hasattr(getattr(model, 'backbone', None), 'patch_shape'):
        return _mismatch(source, kind.describe(), type(model).__name__, None, sd, own, allow_missing, verbose)
    fix = fix_for_kind(kind, source, model, config) if layout == 'auto' and dataset is None else None
    if fix is not None:  # the wrong kind of checkpoint: its keys say it, the fix says what to do instead
        return _mismatch(source, kind.describe(), describe_model(model), fix, sd, own, allow_missing, verbose)
    if isinstance(error, CheckpointMismatchError):
        return error
    reason = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    fix = None if isinstance(error, AmbiguousGridError) else fix_for_kind(kind, source, model, config) or (
        f'see what it holds: python tools/convert_checkpoint.py {source} out.pth --config {config or "CONFIG"}')
    return CheckpointMismatchError(mismatch_message(source, kind.describe(), describe_model(model), fix,
                                                    reason=reason, verbose=verbose))


def _refuse_other_grid(model: nn.Module, sd, ckpt, source: str, config: Optional[str]) -> None:
    """``resample=False``: a checkpoint of another input size (position rows, or a recorded grid) is refused."""
    own = model.state_dict()
    key, grid = 'backbone.pos_embed', recorded_grid(ckpt)
    model_grid = getattr(getattr(model, 'backbone', None), 'patch_shape', None)
    what = f'{source} was made for another input size than {config or "the model"}'
    if key in sd and key in own and sd[key].shape != own[key].shape:
        raise CheckpointMismatchError(f'{what}: {key} {tuple(sd[key].shape)} vs {tuple(own[key].shape)}; it is '
                                      'not resampled (resample=False)')
    if grid is not None and model_grid is not None and tuple(grid) != tuple(model_grid):
        raise CheckpointMismatchError(f'{what}: it records a {grid[0]}x{grid[1]} patch grid, the config builds '
                                      f'{model_grid[0]}x{model_grid[1]}')


def _load_backbone(vit: nn.Module, sd, ckpt, source: str, prefix, src_grid, patch_padding) -> Loaded:
    """Pre-training or backbone weights into a bare ``ViT``; see the module docstring."""
    from vitpose_mm.models.layers import is_relative_position_key
    try:
        conv = convert(sd, vit, 'auto', None, None, recorded_grid(ckpt), src_grid, patch_padding, prefix, source)
    except (KeyError, ValueError) as e:
        from .diagnose import describe_checkpoint, fix_for_kind, mismatch_message
        kind = describe_checkpoint(sd, ckpt.get('meta'))
        if kind.kind not in ('vitpose+', 'distill'):  # the message of the error says it all
            raise
        reason = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
        raise CheckpointMismatchError(mismatch_message(
            source, kind.describe(), f'a plain {type(vit).__name__} backbone (init_cfg)',
            fix_for_kind(kind, source, vit, None), reason=reason)) from e
    own = vit.state_dict()
    missing = [k for k in own if k not in conv.state_dict]
    # window attention's relative-position tables are in no plain checkpoint: they keep their zero init
    not_allowed = [k for k in missing if not k.startswith('last_norm.') and k != 'extra_tokens'
                   and not is_relative_position_key(k)]
    if not_allowed:
        raise KeyError(f'{source} lacks backbone weights {not_allowed[:8]}{" ..." if len(not_allowed) > 8 else ""}')
    vit.load_state_dict({**{k: own[k] for k in missing}, **conv.state_dict}, strict=True)
    MMLogger.get_current_instance().info(f'{source}: kept initial values of {missing or "nothing"}')
    _log_loaded(source, 'backbone', len(conv.state_dict), conv.dropped, (), per_key=False)  # notes: logged
    return Loaded(ckpt, conv.layout, conv.notes, None, conv.dropped)


def _log_loaded(source: str, what: str, count: int, dropped: Dict[str, str], notes: Sequence[str],
                per_key: bool = True) -> None:
    """One line for the load, one per dropped key with its reason (``per_key``; else one per reason, naming the
    first keys: a pre-training decoder), one per note."""
    logger = MMLogger.get_current_instance()
    logger.info(f'loaded {source} ({what}): {count} tensors, {len(dropped)} dropped')
    for key, reason in (dropped.items() if per_key else ()):
        logger.info(f'  dropped {key}: {reason}')
    for reason in sorted(set(dropped.values())) if not per_key else ():
        keys = [k for k, r in dropped.items() if r == reason]
        logger.info(f'  dropped {len(keys)} keys ({", ".join(keys[:4])}{", ..." if len(keys) > 4 else ""}): '
                    f'{reason}')
    for note in notes:
        logger.info(f'  {note}')


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
            "dataset_check='warn' (load).")
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
    from .diagnose import mismatch_message
    missing = [k for k in own if k not in sd and k not in allow_missing]
    surplus = [k for k in sd if k not in own]
    shapes = [f'{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}' for k in sd
              if k in own and sd[k].shape != own[k].shape]
    return CheckpointMismatchError(mismatch_message(source, checkpoint, model, fix, missing, surplus, shapes,
                                                    verbose=verbose))


# ---- the names every caller used before load(); each is load() with its arguments -------------------------------
def load_checkpoint(model: nn.Module, path: str, layout: str = 'auto', dataset: Optional[str] = None,
                    src_grid: Optional[Sequence[int]] = None, patch_padding: str = 'pad',
                    allow_missing: Iterable[str] = (), config: Optional[str] = None,
                    verbose: Optional[bool] = None, dataset_meta: Optional[dict] = None,
                    dataset_check: str = 'error') -> Loaded:
    """:func:`load` from a file, URL or HF folder."""
    return load(model, os.fspath(path), layout, dataset, src_grid, patch_padding, None, allow_missing, True, config,
                verbose, dataset_meta, dataset_check)


def load_state_dict(model: nn.Module, sd: Dict[str, torch.Tensor], source: str = '<memory>',
                    checkpoint: Optional[Dict[str, Any]] = None, layout: str = 'auto',
                    dataset: Optional[str] = None, src_grid: Optional[Sequence[int]] = None,
                    patch_padding: str = 'pad', allow_missing: Iterable[str] = (), config: Optional[str] = None,
                    verbose: Optional[bool] = None, dataset_meta: Optional[dict] = None,
                    dataset_check: str = 'error') -> Loaded:
    """:func:`load` of tensors in memory (``checkpoint``: the whole file, for its ``meta``)."""
    ckpt = {**(checkpoint or {}), 'state_dict': sd}
    ckpt.pop('model', None)
    return load(model, ckpt, layout, dataset, src_grid, patch_padding, None, allow_missing, True, config, verbose,
                dataset_meta, dataset_check, source)


def load_backbone_weights(model: nn.Module, path: str, prefix: Optional[str] = None,
                          src_grid: Optional[Sequence[int]] = None, patch_padding: str = 'pad') -> Loaded:
    """:func:`load` of pre-training or ViTPose backbone weights into a bare ``ViT``."""
    return load(model, os.fspath(path), prefix=prefix, src_grid=src_grid, patch_padding=patch_padding)


__all__ = ['DATASET_CHECKS', 'Loaded', 'check_dataset', 'load', 'load_checkpoint', 'load_state_dict',
           'load_backbone_weights', 'read_checkpoint']
