"""The teacher of a distillation run and the stage-1 token: built from files and checked at construction time.

Everything here runs while the distiller is built, so that a teacher config or checkpoint that is missing or does
not fit the student (keypoint count, input size, heatmap size, input normalisation) stops the run before the first
iteration, with a message naming the file. :class:`FrozenTeacher` holds the stage-2 teacher outside the distiller's
module tree, so that it is in none of the distiller's state dicts, optimizer groups or DDP buckets.
"""
import copy
import os.path as osp
from typing import Iterable, Optional, Tuple, Union

import torch
from mmengine.config import Config
from torch import Tensor, nn

from mmengine.model import initialize
from mmengine.registry import FUNCTIONS
from mmpose.registry import MODELS
from vitpose_mm.utils import configs_dir

TOKEN_KEY = 'backbone.extra_tokens'


def resolve_teacher_config(path: str) -> str:
    """An absolute path as it is; a relative one under the package's ``configs/`` (never the working directory)."""
    root = configs_dir()
    candidate = path if osp.isabs(path) else osp.join(root, path)
    if not osp.isfile(candidate):
        where = '' if osp.isabs(path) else (f' (relative teacher config paths are resolved against the package '
                                            f'configs folder {root}, never the working directory; give an absolute '
                                            f'path for a config elsewhere)')
        raise FileNotFoundError(f'teacher config not found: {candidate}{where}')
    return candidate


def teacher_model_cfg(config: Union[str, dict]) -> Tuple[dict, str]:
    """The teacher's model dict and a name for messages, from a config path, a whole config dict or a model dict."""
    if isinstance(config, str):
        path = resolve_teacher_config(config)
        cfg = Config.fromfile(path)
        if not isinstance(cfg.get('model'), dict):
            raise ValueError(f'teacher config {path} has no `model` dict')
        return cfg.model.to_dict(), path
    if isinstance(config, dict):
        model = config.get('model', config)
        if not isinstance(model, dict) or 'type' not in model:
            raise ValueError('a teacher config given as a dict must be a model dict (with `type`) or a config with '
                             f'a `model` dict; got keys {sorted(config)}')
        model = model.to_dict() if hasattr(model, 'to_dict') else model
        return copy.deepcopy(dict(model)), '<teacher config dict>'
    raise TypeError(f'teacher config must be a path or a dict, got {type(config).__name__}')


# ---- what a model config says about its inputs and outputs ------------------------------------------------
def _codec(model: dict) -> dict:
    return (model.get('head') or {}).get('decoder') or {}


def input_size(model: dict) -> Optional[Tuple[int, int]]:
    """(w, h) of the network input: the codec's ``input_size``, else the backbone's ``img_size`` (h, w)."""
    if 'input_size' in _codec(model):
        return tuple(int(s) for s in _codec(model)['input_size'])
    img = (model.get('backbone') or {}).get('img_size')
    if img is None:
        return None
    h, w = (img, img) if isinstance(img, int) else img
    return int(w), int(h)


def heatmap_size(model: dict) -> Optional[Tuple[int, int]]:
    size = _codec(model).get('heatmap_size')
    return None if size is None else tuple(int(s) for s in size)


def num_keypoints(model: dict) -> Optional[int]:
    return (model.get('head') or {}).get('out_channels')


def _normalisation(preprocessor: Optional[dict]) -> dict:
    p = preprocessor or {}
    return {k: [float(v) for v in p[k]] if isinstance(p.get(k), (list, tuple)) else p.get(k)
            for k in ('mean', 'std', 'bgr_to_rgb')}


def check_normalisation(teacher: dict, name: str, data_preprocessor: Optional[dict]) -> None:
    """The teacher is fed the batch as this model's data preprocessor made it: both must normalise alike."""
    t_norm = _normalisation(teacher.get('data_preprocessor'))
    s_norm = _normalisation(data_preprocessor)
    if t_norm != s_norm:
        raise ValueError(f'teacher config {name} normalises its input differently ({t_norm}) from this model\'s '
                         f'data_preprocessor ({s_norm}); the teacher is fed the student\'s preprocessed batch')


def check_compatible(teacher: dict, name: str, student: dict, data_preprocessor: Optional[dict],
                     need_heatmaps: bool) -> None:
    """Refuse a teacher that sees other inputs than the student or predicts other keypoints/heatmaps."""
    checks = [('keypoints', num_keypoints(teacher), num_keypoints(student), 'head.out_channels'),
              ('input size (w, h)', input_size(teacher), input_size(student), 'head.decoder.input_size')]
    if need_heatmaps:
        checks.append(('heatmap size (w, h)', heatmap_size(teacher), heatmap_size(student),
                       'head.decoder.heatmap_size'))
    for what, t, s, key in checks:
        if t is not None and s is not None and t != s:
            raise ValueError(f'teacher config {name} does not match the student: {what} {t} vs the student\'s {s} '
                             f'({key})')
    check_normalisation(teacher, name, data_preprocessor)


# ---- weights --------------------------------------------------------------------------------------------
def load_teacher_checkpoint(model: nn.Module, path: Optional[str], name: str,
                            allow_missing: Iterable[str] = ()) -> None:
    """Load ``path`` into ``model`` through the package's one loader, named by its weight initializer
    (``ViTPoseCheckpoint``, registered by ``vitpose_mm.checkpoints``): all or nothing, only ``allow_missing`` may
    be absent, and never resampled (``resample=False``): a trained teacher at another resolution is not this
    teacher. Errors name both files and say what the checkpoint is."""
    if not path:
        raise ValueError(f'the teacher ({name}) needs a checkpoint: teacher=dict(config=..., checkpoint=PATH)')
    if '://' in path:
        raise ValueError(f'teacher checkpoint {path}: only local files are supported')
    try:
        initialize(model, dict(type='ViTPoseCheckpoint', checkpoint=path, resample=False,
                               allow_missing=list(allow_missing), config=f'the teacher config {name}'))
    except ValueError as e:  # the loader's CheckpointMismatchError is a ValueError
        detail = ' '.join(str(e).split())  # one line, for logs
        raise ValueError(f'teacher checkpoint {path} does not fit the teacher config {name}: {detail}') from e


def freeze(module: nn.Module) -> None:
    """No gradients, eval mode, and never re-initialised by ``init_weights`` (its weights come from a file)."""
    module.requires_grad_(False)
    module.eval()
    for m in module.modules():
        if hasattr(m, '_is_init'):
            m._is_init = True


class FrozenTeacher:
    """A frozen network held outside the module tree of the model that uses it (the stage-2 teacher).

    A plain object, not an ``nn.Module``: ``nn.Module.__setattr__`` stores it as an ordinary attribute, so the
    network is in none of its owner's ``state_dict()`` / ``load_state_dict()`` (checkpoints, ``--resume``,
    ``load_from``), ``parameters()`` (optimizer, DDP), ``modules()`` (``train()``, ``apply``, ``init_weights``,
    SyncBN conversion). It is frozen and in eval mode from the start, and nothing of its owner reaches it but the
    owner's ``_apply`` (``.to()``, ``.cuda()``, ``.half()``, ``.double()``), which must pass it on to ``module``.

    Args:
        module: the network; frozen here (:func:`freeze`).
    """

    def __init__(self, module: nn.Module):
        freeze(module)
        self.module = module

    def __call__(self, inputs: Tensor) -> Tensor:
        """(B, 3, H, W) preprocessed images -> (B, K, h, w) heatmaps, in eval mode, without graph."""
        with torch.no_grad():
            return self.module(inputs, None, mode='tensor')

    def __repr__(self) -> str:
        return f'FrozenTeacher({type(self.module).__name__}, not saved)'


def build_teacher(model: dict, name: str, checkpoint: Optional[str]) -> nn.Module:
    """The teacher network of stage 2: built from its model dict, loaded strictly from ``checkpoint`` (frozen by
    :class:`FrozenTeacher`)."""
    model = copy.deepcopy(model)
    model.pop('init_cfg', None)
    (model.get('backbone') or {}).pop('init_cfg', None)  # pre-training weights: the checkpoint has everything
    teacher = MODELS.build(model)
    if not (hasattr(teacher, 'backbone') and getattr(teacher, 'head', None) is not None):
        raise ValueError(f'teacher config {name} builds a {type(teacher).__name__} without backbone and head; a '
                         'top-down heatmap estimator (TopdownPoseEstimator) is needed')
    load_teacher_checkpoint(teacher, checkpoint, name)
    return teacher


def read_token(path: str, key: str = TOKEN_KEY) -> torch.Tensor:
    """The (1, n, C) tokens stored under ``key`` in a checkpoint (a stage-1 run, or an extracted model)."""
    if not path:
        raise ValueError('knowledge_token needs the checkpoint of a stage-1 run: knowledge_token=dict(checkpoint=...)')
    _, sd = FUNCTIONS.get('vitpose_read_state_dict')(path)  # the loader's reader (vitpose_mm.checkpoints)
    if key not in sd:
        raise KeyError(f'{path} holds no {key!r}: is it a stage-1 (token learning) checkpoint? It has '
                       f'{len(sd)} tensors, e.g. {sorted(sd)[:4]}')
    token = sd[key].detach().float()
    if token.dim() == 2:
        token = token.unsqueeze(0)
    if token.dim() != 3 or token.shape[0] != 1 or token.shape[1] < 1:
        raise ValueError(f'{key} in {path} has shape {tuple(sd[key].shape)}; expected (1, n, C)')
    return token
