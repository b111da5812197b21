"""Forward throughput of torch against onnxruntime, repetitions interleaved (``tools/benchmark_onnx.py``)."""
import statistics
import time
from typing import Callable, Dict, List

import numpy as np


def interleaved_rates(forwards: Dict[str, Callable[[], object]], batch: int, reps: int,
                      report: Callable[[str], None] = lambda line: None) -> Dict[str, float]:
    """Median images/s of each forward: one warm-up call each, then ``reps`` rounds calling each in turn, so that a
    change of machine load hits all of them.

    Args:
        forwards: ``{name: f}``, ``f()`` runs one batch of ``batch`` crops.
        report: called with one line per round (``rep 2/5: torch 4.31 img/s, onnxruntime 5.02 img/s``).

    Raises:
        ValueError: ``batch`` or ``reps`` below 1.
    """
    if batch < 1 or reps < 1:
        raise ValueError(f'batch and reps must be >= 1, got {batch} and {reps}')
    times: Dict[str, List[float]] = {name: [] for name in forwards}
    for f in forwards.values():
        f()
    for rep in range(reps):
        for name, f in forwards.items():
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
        report(f'rep {rep + 1}/{reps}: ' + ', '.join(f'{n} {batch / t[-1]:.2f} img/s' for n, t in times.items()))
    return {name: batch / statistics.median(t) for name, t in times.items()}


def torch_and_onnx_forwards(model, run: Callable[[np.ndarray], np.ndarray],
                            crops: np.ndarray) -> Dict[str, Callable[[], np.ndarray]]:
    """``{'torch': ..., 'onnxruntime': ...}``: the model's ``tensor`` mode (no grad) and ``run`` on the same crops."""
    import torch
    x = torch.from_numpy(crops)

    def torch_forward() -> np.ndarray:
        with torch.no_grad():
            return model(x, None, mode='tensor').numpy()

    return {'torch': torch_forward, 'onnxruntime': lambda: run(crops)}


__all__ = ['interleaved_rates', 'torch_and_onnx_forwards']
