"""Checkpoints of the package's runners hold plain data, so that they load under ``torch.load(weights_only=True)``
(torch's default since 2.6) with no allow-list: in mmpose's own tools (``tools/misc/publish_model.py``,
``tools/test.py``), in any other program, and in this package.

mmengine 0.10.7's ``Runner.save_checkpoint`` writes two things torch's weights-only unpickler refuses:
``meta['dataset_meta']`` (mmpose's ``parse_pose_metainfo`` keeps keypoint colours, sigmas and weights as numpy arrays)
and ``message_hub`` (``HistoryBuffer`` objects of numpy arrays, which also pickle their statistics methods).
:func:`to_plain` turns them into lists, numbers and, for a ``HistoryBuffer``, a tagged dict; the runner applies it
after every hook's ``before_save_checkpoint``. :func:`from_plain` turns a loaded checkpoint back into what mmengine's
``resume`` expects: ``HistoryBuffer`` objects, and the live dataset metainfo when the saved one has the same values
(mmengine compares the two by their pickles). The weights and the optimizer state are tensors and stay as they are.
"""
from typing import Any, Optional

import numpy as np
from mmengine.logging import HistoryBuffer

HISTORY_BUFFER = 'mmengine.logging.HistoryBuffer'  # the tag of a HistoryBuffer written as a dict
PLAIN_KEYS = ('meta', 'message_hub', 'param_schedulers')  # the parts of an mmengine checkpoint made plain


def to_plain(obj: Any) -> Any:
    """``obj`` with numpy arrays as (nested) lists, numpy scalars as Python numbers and ``HistoryBuffer`` objects as
    ``{HISTORY_BUFFER: {'log_history': [...], 'count_history': [...], 'max_length': n}}``, in dicts, lists and
    tuples; anything else (tensors included) as it is."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {HISTORY_BUFFER: dict(log_history=log.tolist(), count_history=count.tolist(),
                                     max_length=int(obj.max_length))}
    if isinstance(obj, dict):
        out = obj.copy()  # keeps the dict's type (OrderedDict)
        for key, value in obj.items():
            out[key] = to_plain(value)
        return out
    if type(obj) in (list, tuple):
        return type(obj)(to_plain(v) for v in obj)
    return obj


def make_checkpoint_plain(checkpoint: dict) -> None:
    """Make the parts of an mmengine checkpoint dict in :data:`PLAIN_KEYS` plain (:func:`to_plain`), in place."""
    for key in PLAIN_KEYS:
        if key in checkpoint:
            checkpoint[key] = to_plain(checkpoint[key])


def from_plain(checkpoint: dict, dataset_meta: Optional[dict] = None) -> dict:
    """Undo :func:`make_checkpoint_plain` where mmengine's ``resume`` needs objects, in place, and return
    ``checkpoint``: tagged dicts in ``message_hub['log_scalars']`` become ``HistoryBuffer`` objects, and
    ``meta['dataset_meta']`` becomes ``dataset_meta`` (the live metainfo of the training set) when it holds the same
    values. Checkpoints written by mmengine's own runner pass unchanged."""
    scalars = (checkpoint.get('message_hub') or {}).get('log_scalars')
    if isinstance(scalars, dict):
        for key, value in scalars.items():
            if isinstance(value, dict) and set(value) == {HISTORY_BUFFER}:
                scalars[key] = HistoryBuffer(**value[HISTORY_BUFFER])
    meta = checkpoint.get('meta')
    if dataset_meta is not None and isinstance(meta, dict) and 'dataset_meta' in meta \
            and to_plain(meta['dataset_meta']) == to_plain(dataset_meta):
        meta['dataset_meta'] = dataset_meta
    return checkpoint


__all__ = ['HISTORY_BUFFER', 'PLAIN_KEYS', 'to_plain', 'make_checkpoint_plain', 'from_plain']
