"""Reading checkpoint files without ever running code from them, and writing files all at once."""
import contextlib
import os
import os.path as osp
import pickle
import shutil
import uuid
from typing import Any, Dict, Iterator, Optional, Tuple

import torch

from .safe_globals import mmengine_checkpoint_globals

MODULE_PREFIX = 'module.'  # what DDP / DataParallel put before every key


def load_file(path: str) -> Any:
    """Load a ``.pth``/``.pt`` (``torch.load(weights_only=True)``) or ``.safetensors`` file on the CPU.

    Errors name the file: a missing file, a truncated or corrupt archive, and a pickle that asks for anything
    outside torch's weights-only allow-list (i.e. that would run code) are all refused.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint not found: {path}')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file as load_safetensors
        try:
            return load_safetensors(path, device='cpu')
        except Exception as e:  # safetensors raises its own SafetensorError
            raise RuntimeError(f'cannot read safetensors file {path}: {e}') from e
    try:
        with mmengine_checkpoint_globals():  # also the checkpoints of mmengine's own runner
            return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        raise RuntimeError(f'refused to load {path}: it is not a plain weights file (weights_only=True rejected '
                           f'it). Only load checkpoints you trust with other tools. Details: {e}') from e
    except (RuntimeError, EOFError, OSError) as e:
        raise RuntimeError(f'cannot read checkpoint {path} (truncated or not a torch file?): {e}') from e


def read_checkpoint(path: str) -> Dict[str, Any]:
    """A checkpoint file (weights only, never code: :func:`load_file`), an URL (mmengine's loaders), or an HF
    ``save_pretrained`` folder (as ``{'state_dict': ..., 'hf_config': ...}``); a bare state dict is returned as
    ``{'state_dict': ...}``.

    Raises:
        FileNotFoundError: no such file or folder. RuntimeError: unreadable, or not a plain weights file.
    """
    path = os.fspath(path)
    if '://' in path:
        from mmengine.runner import CheckpointLoader
        return CheckpointLoader.load_checkpoint(path, map_location='cpu')
    if osp.isdir(path):
        from .hf import read_hf_folder
        sd, cfg, _ = read_hf_folder(path)
        return {'state_dict': sd, 'hf_config': cfg}
    obj = load_file(path)
    return obj if isinstance(obj, dict) else {'state_dict': obj}


@contextlib.contextmanager
def atomic_path(path: str, folder: bool = False) -> Iterator[str]:
    """Write ``path`` all at once: yields a hidden temporary file (or, ``folder=True``, an empty folder) beside
    ``path``; when the ``with`` body returns, its bytes are flushed to disk (``os.fsync``) and it is renamed to
    ``path`` (``os.replace``: atomic on one filesystem, and an existing file is replaced); when the body raises,
    the temporary is removed and ``path`` is left as it was. A process killed mid-write leaves at most a hidden
    ``.NAME.*.part`` file, never a partial ``path``.

    ``folder=True`` replaces only a missing or empty folder (``os.replace`` cannot replace a non-empty one).
    ``path`` gets the mode a plain ``open`` or ``os.makedirs`` would give it (0o666, or 0o777 for a folder, less the
    process umask), not the owner-only 0o600/0o700 of ``tempfile``'s temporaries.
    """
    path = osp.abspath(os.fspath(path))
    parent, name = osp.split(path)
    os.makedirs(parent, exist_ok=True)
    tmp = osp.join(parent, f'.{name}.{uuid.uuid4().hex}.part')
    # created as a plain write creates (the kernel applies the umask), not owner-only as tempfile's mkstemp/mkdtemp
    if folder:
        os.mkdir(tmp, 0o777)
    else:
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield tmp
        files = [osp.join(d, f) for d, _, fs in os.walk(tmp) for f in fs] if folder else [tmp]
        for f in files:
            with open(f, 'rb') as handle:
                os.fsync(handle.fileno())
        if folder and osp.isdir(path):
            os.rmdir(path)  # empty (else OSError): os.replace needs it gone
        os.replace(tmp, path)
    except BaseException:
        if osp.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif osp.exists(tmp):
            os.remove(tmp)
        raise


def state_dict_of(obj: Any, path: str = '<memory>') -> Dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint: ``state_dict`` (mmengine/mmcv), ``model`` (MAE) or the dict itself,
    without the ``module.`` prefix of a model saved inside DDP (:func:`strip_module_prefix`)."""
    if isinstance(obj, dict):
        for key in ('state_dict', 'model', 'module'):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f'{path} holds no state dict of tensors (looked under "state_dict", "model", "module")')
    return strip_module_prefix(obj)


def strip_module_prefix(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """``sd`` without the ``module.`` that DDP puts before every key (only when every key has it)."""
    if sd and all(k.startswith(MODULE_PREFIX) for k in sd):
        return {k[len(MODULE_PREFIX):]: v for k, v in sd.items()}
    return dict(sd)


def recorded_grid(checkpoint: Any) -> Optional[Tuple[int, int]]:
    """The position grid a checkpoint written by this package records (``meta['vitpose_mm']['grid']``), or None."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    ours = meta.get('vitpose_mm') if isinstance(meta, dict) else None
    grid = ours.get('grid') if isinstance(ours, dict) else None
    return (int(grid[0]), int(grid[1])) if grid is not None else None


def grid_record(model: torch.nn.Module) -> Dict[str, Any]:
    """What a checkpoint of ``model`` records for :func:`recorded_grid`: its ViT's grid and patch size (or nothing
    for a model without a ViT backbone)."""
    backbone = getattr(model, 'backbone', model)
    if not hasattr(backbone, 'patch_shape'):
        return {}
    return dict(grid=[int(s) for s in backbone.patch_shape],
                patch_size=[int(s) for s in backbone.patch_embed.proj.kernel_size])
