"""The run of ``tools/benchmark.py``: inference rows interleaved, training steps, people per image (top-down per
person; bottom-up vs top-down per image, ``people.py``), matmul rate.

Every measured thing is repeated ``reps`` times and the repetitions are interleaved (row 1, row 2, ..., row 1, ...), so
that a machine whose load changes during the run slows every row alike and the ratios stay fair.
"""
import logging
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch.utils.flop_counter import FlopCounterMode

from vitpose_mm.apis import PoseEstimator
from vitpose_mm.hardware import Bf16Support, cpu_flags, native_bf16

from .benchmark import (IMPLEMENTATIONS, SIZES, HFWorker, Row, build_estimator, build_rows, crops, hf_modes,
                        mmpose_config, vitpose_mm_config)
from .people import people_bottomup_vs_topdown
from .timing import matmul_flops, peak_memory_bytes, percentile, time_calls


@dataclass
class BenchmarkOptions:
    """What to measure; see ``tools/benchmark.py --help``."""
    sizes: Sequence[str] = ('B', )
    implementations: Sequence[str] = ('vitpose_mm', 'mmpose', 'onnxruntime', 'hf')
    device: str = 'cpu'
    threads: int = 0
    batch: int = 0  # throughput batch; 0: 8 on the CPU, 128 on CUDA
    reps: int = 3
    latency_reps: int = 6
    compile: bool = False
    train: bool = True
    train_batch: int = 0  # 0: 4 on the CPU, 64 on CUDA
    people: Sequence[int] = (1, 4, 16)
    people_sizes: Sequence[str] = ('tiny', 'B')  # bottom-up vs top-down pairs (analysis/people.py); () skips them
    people_only: bool = False  # only the bottom-up vs top-down people table (no inference rows, training, per person)
    hf_python: Optional[str] = None
    modes: Dict[str, Sequence[str]] = field(default_factory=dict)
    half: Optional[torch.dtype] = None  # set by run_benchmark: the half-precision dtype measured, if any


def _progress(total: int):
    from tqdm import tqdm
    return tqdm(total=total, desc='benchmark', unit='step')


def _summary(times: List[float], batch: int) -> dict:
    return dict(images_per_s=batch / float(np.median(times)), p50_ms=1e3 * percentile(times, 50),
                p95_ms=1e3 * percentile(times, 95), times=times)


def flops_per_image(size: str, device: torch.device) -> int:
    """FLOPs of one crop through this package's model (2 per multiply-add; ``FlopCounterMode``), fp32."""
    model = build_estimator(vitpose_mm_config(size), device)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.head.forward(model.extract_feat(crops(1, device)))
    return counter.get_total_flops()


def inference(options: BenchmarkOptions, device: torch.device, worker: Optional[HFWorker], bar) -> List[dict]:
    results = []
    for size in options.sizes:
        rows = build_rows(size, device, options.implementations, options.modes, worker)
        bar.set_postfix_str(f'{size}: warm-up and heatmap check')
        checks = []
        for row in rows:  # first calls (compilation, allocator warm-up) and the heatmap check, untimed
            row.time(options.batch, 1)
            row.time(1, 1)
            checks.append(row.check(options.batch))
        bar.update(1)
        timed: Dict[int, List[List[float]]] = {options.batch: [[] for _ in rows], 1: [[] for _ in rows]}
        for rep in range(max(options.reps, options.latency_reps)):
            order = list(enumerate(rows)) if rep % 2 == 0 else list(enumerate(rows))[::-1]  # ABC CBA: drift cancels
            for i, row in order:
                bar.set_postfix_str(f'{size} {row.impl} {row.mode}')
                if rep < options.reps:
                    timed[options.batch][i] += row.time(options.batch, 1)
                if rep < options.latency_reps:
                    timed[1][i] += row.time(1, 1)
            bar.update(1)
        flops = flops_per_image(size, device)
        for i, row in enumerate(rows):
            results.append(dict(size=size, impl=row.impl, mode=row.mode, flops_per_image=flops, **checks[i],
                                throughput=_summary(timed[options.batch][i], options.batch),
                                latency=_summary(timed[1][i], 1)))
    return results


def _train_step(model, optimizer, x, target, dtype: Optional[torch.dtype]) -> None:
    """One AdamW step (``optimizer`` None: forward and backward only, into the gradients already allocated)."""
    context = torch.autocast(x.device.type, dtype) if dtype else torch.autocast(x.device.type, enabled=False)
    model.zero_grad(set_to_none=optimizer is not None)
    with context:
        heatmaps = model.head.forward(model.extract_feat(x))
    F.mse_loss(heatmaps.float(), target).backward()
    if optimizer is not None:
        optimizer.step()


def training(options: BenchmarkOptions, device: torch.device, bar) -> List[dict]:
    """AdamW steps on random crops and targets: this package fp32 / bf16 autocast, each with and without gradient
    checkpointing (``use_checkpoint``), and mmpose's config fp32 / bf16 autocast (mmpretrain's ViT has no
    checkpointing switch)."""
    half = options.half  # None: no half-precision rows
    half_name = 'fp16' if device.type == 'cuda' else 'bf16'
    dtypes = (None, half) if half else (None, )
    results = []
    for size in options.sizes:
        plans = []
        if 'vitpose_mm' in options.implementations:
            for cp in (False, True):
                for dtype in dtypes:
                    plans.append(('vitpose_mm', dtype, cp, vitpose_mm_config(size), dict(use_checkpoint=cp)))
        if 'mmpose' in options.implementations:
            plans += [('mmpose', dtype, False, mmpose_config(size), {}) for dtype in dtypes]
        x = crops(options.train_batch, device)
        target = torch.rand(options.train_batch, 17, 64, 48, generator=torch.Generator().manual_seed(1)).to(device)
        steps = []
        for impl, dtype, cp, config, backbone in plans:
            model = build_estimator(config, device, **backbone).train()
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
            _train_step(model, optimizer, x, target, dtype)  # AdamW states exist from here on
            # forward + backward only, gradients already allocated: AdamW's foreach step and fresh gradients each
            # take as much as all parameters, which would hide what checkpointing saves
            memory = peak_memory_bytes(lambda: _train_step(model, None, x, target, dtype), device)
            steps.append((impl, dtype, cp, model, optimizer, memory))
            bar.update(1)
        times: List[List[float]] = [[] for _ in steps]
        for rep in range(options.reps):
            for i, (impl, dtype, cp, model, optimizer, _) in (enumerate(steps) if rep % 2 == 0 else
                                                               list(enumerate(steps))[::-1]):
                bar.set_postfix_str(f'{size} training {impl}')
                times[i] += time_calls(lambda: _train_step(model, optimizer, x, target, dtype), 1, device)
            bar.update(1)
        for (impl, dtype, cp, _, _, memory), t in zip(steps, times):
            mode = (half_name + '-autocast' if dtype else 'fp32') + (' + checkpointing' if cp else '')
            results.append(dict(size=size, impl=impl, mode=mode, memory=memory,
                                **_summary(t, options.train_batch)))
    return results


def people_scaling(options: BenchmarkOptions, device: torch.device, bar) -> List[dict]:
    """Milliseconds per person of ``PoseEstimator`` (this package, fp32 and bf16) on a 640x480 image with N boxes:
    flat when the crops go through the model as one batch."""
    from mmengine.config import Config
    from mmpose.apis import init_model

    size = options.sizes[0]
    img = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    rng = np.random.default_rng(1)
    estimators = {}
    for precision in ('fp32', 'bf16') if options.half == torch.bfloat16 else ('fp32', ):
        cfg = Config.fromfile(vitpose_mm_config(size))
        cfg.model.backbone.pop('init_cfg', None)
        cfg.model.test_cfg.flip_test = False
        torch.manual_seed(0)
        estimators[precision] = PoseEstimator(init_model(cfg, None, device=str(device)), precision=precision)
    times = {(p, n): [] for p in estimators for n in options.people}
    boxes = {n: np.concatenate([rng.uniform(0, 300, (n, 2)), rng.uniform(340, 600, (n, 2)) * [1, 0.75],
                                np.ones((n, 1))], axis=1) for n in options.people}
    for (p, n) in times:
        estimators[p](img, boxes[n])  # warm-up
    for _ in range(options.reps):
        for (p, n) in times:
            bar.set_postfix_str(f'{n} people, {p}')
            times[(p, n)] += time_calls(lambda: estimators[p](img, boxes[n]), 1, device)
        bar.update(1)
    return [dict(size=size, precision=p, people=n, ms_per_person=1e3 * float(np.median(t)) / n)
            for (p, n), t in times.items()]


def bf16_rows(device: torch.device, support: Optional[Bf16Support] = None) -> Tuple[bool, Optional[str]]:
    """Whether the bf16 rows are skipped on ``device``, and the note the report carries about them (None: nothing
    to say). The decision is :func:`vitpose_mm.hardware.native_bf16`'s (``support``: a decision to use instead).

    Returns:
        ``(skipped, note)``: on a CPU without hardware bf16 the rows are skipped (torch emulates bf16, far slower);
        on a CPU with it they run and the note says why.
    """
    if torch.device(device).type != 'cpu':
        return False, None
    support = support or native_bf16()
    if not support.native:
        return True, (f'bf16 rows skipped: this CPU has no native bfloat16 ({support.reason}; torch emulates it, '
                      'matmuls about 50-100x slower than fp32)')
    return False, f'bf16 rows measured: this CPU has native bfloat16 ({support.reason})'


def cpu_summary() -> dict:
    """This CPU's vector and bf16 flags (from ``/proc/cpuinfo``), torch's dispatch level and the bf16 decision, for
    the report: the figures of a run are read with the machine that made them."""
    flags = cpu_flags()
    wanted = ('avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni', 'avx512_bf16', 'amx_bf16', 'amx_int8', 'amx_tile')
    return dict(flags=[f for f in wanted if f in flags], torch_capability=torch.backends.cpu.get_cpu_capability(),
                native_bf16=native_bf16().native, bf16_reason=native_bf16().reason)


def run_benchmark(options: BenchmarkOptions) -> dict:
    """Measure everything ``options`` asks for; returns the results (``tools/benchmark.py`` writes them out).

    Raises:
        ValueError: an unknown size or implementation (the message lists the accepted ones).
    """
    device = torch.device(options.device)
    for s in options.sizes:
        if s not in SIZES:
            raise ValueError(f'unknown size {s!r}; accepted: {list(SIZES)}')
    for impl in options.implementations:
        if impl not in IMPLEMENTATIONS and impl != 'hf':
            raise ValueError(f"unknown implementation {impl!r}; accepted: {[*IMPLEMENTATIONS, 'hf']}")
    if options.threads:
        torch.set_num_threads(options.threads)
    options.batch = options.batch or (128 if device.type == 'cuda' else 8)
    options.train_batch = options.train_batch or (64 if device.type == 'cuda' else 4)
    notes = []
    emulated_bf16, note = bf16_rows(device)
    if note:
        notes.append(note)
        print_log(note, 'current', logging.WARNING if emulated_bf16 else logging.INFO)
    for impl in options.implementations:
        if impl not in options.modes:
            modes = hf_modes(device) if impl == 'hf' else IMPLEMENTATIONS[impl].modes(device)
            options.modes[impl] = [m for m in modes if (options.compile or '+compile' not in m)
                                   and not (emulated_bf16 and 'bf16' in m)]
    options.half = None if emulated_bf16 else (torch.float16 if device.type == 'cuda' else torch.bfloat16)
    worker = None
    if 'hf' in options.implementations:
        if options.hf_python and osp.exists(options.hf_python):
            worker = HFWorker(options.hf_python, torch.get_num_threads(), device, options.batch)
        else:
            notes.append(f'HF transformers skipped: no HF environment at {options.hf_python} '
                         '(make it with tools/setup_hf_env.sh)')
            print_log(notes[-1], 'current', logging.WARNING)
    n = 0 if options.people_only else len(options.sizes)
    train = options.train and not options.people_only
    pairs = list(options.people_sizes) if options.people else []
    total = n * (1 + max(options.reps, options.latency_reps)) + (n * (6 + options.reps) if train else 0) + \
        (options.reps if options.people and not options.people_only else 0) + (options.reps if pairs else 0)
    results = dict(device=str(device), threads=torch.get_num_threads(), torch=torch.__version__,
                   batch=options.batch, train_batch=options.train_batch, reps=options.reps, notes=notes,
                   hf=worker.info if worker else None, cpu=cpu_summary() if device.type == 'cpu' else None)
    with _progress(total) as bar:
        try:
            dtypes = [torch.float32] + ([options.half] if options.half else [])
            results['matmul_before'] = {str(d): matmul_flops(d, device) for d in dtypes}
            results['inference'] = [] if options.people_only else inference(options, device, worker, bar)
            results['training'] = training(options, device, bar) if train else []
            results['people'] = people_scaling(options, device, bar) if options.people and not options.people_only \
                else []
            results['people_bottomup'] = people_bottomup_vs_topdown(pairs, options.people, options.reps, device,
                                                                    bar) if pairs else []
            results['matmul_after'] = {str(d): matmul_flops(d, device) for d in dtypes}
        finally:
            if worker is not None:
                worker.close()
    return results


__all__ = ['BenchmarkOptions', 'run_benchmark', 'flops_per_image', 'bf16_rows', 'cpu_summary']
