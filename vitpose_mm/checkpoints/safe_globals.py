"""Let ``torch.load(weights_only=True)`` (the default since torch 2.6) read the checkpoints mmengine's runner writes,
only while this package's loader reads a file (never process-wide).

mmengine 0.10.7 stores its ``MessageHub`` state in a checkpoint's ``message_hub``: ``HistoryBuffer`` objects holding
numpy arrays, numpy scalars, and -- through ``HistoryBuffer.__getstate__`` -- its statistics methods, pickled as
``getattr(HistoryBuffer, 'mean')``. Under torch >= 2.6 such checkpoints fail to load in ``--resume`` and ``test``
("Weights only load failed"). Instead of making every ``torch.load`` unsafe, the few plain-data types involved are
allow-listed, and ``getattr`` is allowed only as a restricted stand-in that can fetch nothing but those statistics
methods of ``HistoryBuffer``, and only inside :func:`mmengine_checkpoint_globals` (torch's ``safe_globals`` context):
``import vitpose_mm`` leaves torch's allow-list as it is. The package's runner writes plain data instead
(:mod:`vitpose_mm.engine.plain_checkpoint`), which loads with no allow-list at all.
"""
import contextlib
import pickle
from typing import Iterator

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj, name: str):
    """``getattr`` as unpickled from an mmengine checkpoint: only ``HistoryBuffer``'s own statistics methods."""
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(f'refused getattr({obj!r}, {name!r}) while loading a checkpoint: only '
                                 f'HistoryBuffer.{{{",".join(_HISTORY_BUFFER_METHODS)}}} are allowed')


def _mmengine_globals() -> list:
    """The globals an mmengine 0.10.7 checkpoint's pickle refers to, beyond torch's own allow-list."""
    return [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        np._core.multiarray._reconstruct,
        np._core.multiarray.scalar,
        *{type(np.dtype(t)) for t in (np.float64, np.float32, np.int64, np.int32, np.bool_, np.uint8)},
        (_history_buffer_getattr, 'builtins.getattr'),
    ]


@contextlib.contextmanager
def mmengine_checkpoint_globals() -> Iterator[None]:
    """Within the block, ``torch.load(weights_only=True)`` also reads mmengine's checkpoints (the globals above);
    on leaving it torch's allow-list is as before. Nested blocks and globals added by others are left alone."""
    present = set(torch.serialization.get_safe_globals())
    missing = [g for g in _mmengine_globals() if g not in present]
    with torch.serialization.safe_globals(missing):
        yield
