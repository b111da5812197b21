"""Let ``torch.load(weights_only=True)`` (the default since torch 2.6) read the checkpoints mmengine's runner writes.

mmengine 0.10.7 stores its ``MessageHub`` state (``HistoryBuffer`` objects holding numpy arrays) and numpy scalars in
``meta``. Under torch >= 2.6 those checkpoints then fail to load in ``--resume`` and ``test`` ("Weights only load
failed"). Instead of making every ``torch.load`` unsafe, the few plain-data types involved are allow-listed.
"""
import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer


def mmengine_checkpoint_globals() -> list:
    """The classes and functions an mmengine 0.10.7 checkpoint's pickle refers to, beyond torch's own."""
    return [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        np.core.multiarray._reconstruct,
        np.core.multiarray.scalar,
        *{type(np.dtype(t)) for t in (np.float64, np.float32, np.int64, np.int32, np.bool_, np.uint8)},
    ]


def allow_mmengine_checkpoints() -> None:
    """Add :func:`mmengine_checkpoint_globals` to torch's weights-only allow-list (idempotent)."""
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
