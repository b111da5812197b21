"""Timing and memory of one call, and the machine's matmul rate: the measuring pieces of ``tools/benchmark.py``.

Imports nothing but torch and numpy, so that the HF transformers worker (``hf_worker.py``, run in its own environment
without mmpose) measures with the very same code.
"""
import time
from typing import Callable, List

import numpy as np
import torch


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously); nothing to wait for on the CPU."""
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], object], reps: int, device: torch.device) -> List[float]:
    """Seconds of each of ``reps`` calls of ``fn``, the device synchronized before and after each."""
    times = []
    for _ in range(reps):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def peak_memory_bytes(fn: Callable[[], object], device: torch.device) -> int:
    """Peak bytes allocated by torch during one call of ``fn``, above what was allocated before it (weights and inputs
    excluded). CUDA: the caching allocator's peak (``max_memory_allocated``). CPU: the live bytes of torch's CPU
    allocations, replayed in time order from ``torch.profiler``'s memory events (each op's own allocations, and
    frees); this misses memory allocated outside torch (oneDNN scratch pads, Python objects)."""
    if torch.device(device).type == 'cuda':
        synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start)
    live = peak = 0
    for e in events:
        live += e.self_cpu_memory_usage
        peak = max(peak, live)
    return int(peak)


def matmul_flops(dtype: torch.dtype, device: torch.device, n: int = 2048, reps: int = 3) -> float:
    """FLOP/s of an (n x n) @ (n x n) product in ``dtype`` (2 n^3 FLOPs), best of ``reps`` after one warm-up."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    a @ b
    best = min(time_calls(lambda: a @ b, reps, device))
    return 2 * n**3 / best


def percentile(times: List[float], q: float) -> float:
    return float(np.percentile(np.asarray(times), q))


__all__ = ['matmul_flops', 'peak_memory_bytes', 'percentile', 'synchronize', 'time_calls']
