"""Tables, ratios and a chart from the results of :func:`vitpose_mm.analysis.benchmark_run.run_benchmark`."""
import math
import os
import os.path as osp
from typing import Dict, List

import numpy as np

from .people import people_markdown

MB = 2**20


def _matmul(results: dict, mode: str) -> float:
    """The slower of the two matmul measurements (before and after the rows) of the mode's compute dtype; NaN for a
    dtype without one (int8: onnxruntime's integer kernels, no torch matmul to compare with)."""
    if mode.startswith('int8'):
        return float('nan')
    half = 'float16' in mode or 'fp16' in mode
    key = 'torch.float32' if mode.startswith('fp32') else ('torch.float16' if half else 'torch.bfloat16')
    return min(results['matmul_before'].get(key, float('nan')), results['matmul_after'].get(key, float('nan')))


def _percent(share: float) -> str:
    return 'n/a' if math.isnan(share) else f'{share:.0%}'


def paired_ratio(row: dict, base: dict) -> float:
    """Speed of ``row`` over ``base`` at the throughput batch: the median over repetitions of the ratio of their
    times in the same repetition (adjacent in time, so a load that changes between repetitions cancels)."""
    pairs = [b / r for r, b in zip(row['throughput']['times'], base['throughput']['times'])]
    return float(np.median(pairs))


def ratios(results: dict) -> Dict[int, dict]:
    """Per row (index in ``results['inference']``): speed at the throughput batch over mmpose fp32, and over the
    fastest (by median images/s) mmpose or HF row of the same size, as paired ratios (:func:`paired_ratio`)."""
    out = {}
    rows = results['inference']
    for i, r in enumerate(rows):
        same = [q for q in rows if q['size'] == r['size']]
        base = next((q for q in same if q['impl'] == 'mmpose' and q['mode'] == 'fp32'), None)
        others = [q for q in same if q['impl'] in ('mmpose', 'hf')]
        best = max(others, key=lambda q: q['throughput']['images_per_s']) if others else None
        out[i] = dict(vs_mmpose_fp32=paired_ratio(r, base) if base else None,
                      vs_best=paired_ratio(r, best) if best else None)
    return out


def _x(v) -> str:
    return f'{v:.2f}x' if v is not None else 'n/a'


def _mb(memory: float) -> str:
    """Peak memory in MB; 'n/a' for a row whose memory torch cannot see (e.g. onnxruntime's own allocator)."""
    return f'{memory / MB:,.0f}' if memory else 'n/a'


def markdown(results: dict, command: str = '') -> str:
    b = results['batch']
    lines = [f"# ViTPose speed, {results['device']}, {results['threads']} threads, torch {results['torch']}", '']
    if command:
        lines += ['```bash', command, '```', '']
    mm = {k: min(results['matmul_before'][k], results['matmul_after'][k]) / 1e9 for k in results['matmul_before']}
    lines.append('matmul 2048^3 in this run (slower of before/after): ' +
                 ', '.join(f'{k.split(".")[1]} {v:,.0f} GFLOP/s' for k, v in mm.items()))
    if results.get('cpu'):
        cpu = results['cpu']
        lines.append(f"CPU flags: {' '.join(cpu['flags']) or 'none of the listed'}; torch dispatch "
                     f"{cpu['torch_capability']}; native bf16: {'yes' if cpu['native_bf16'] else 'no'}")
    lines += [*(f'- {n}' for n in results['notes']), '']
    if results['inference']:  # none with --people-only
        lines += [f'## Inference (heatmaps of random crops 256x192, no flip test; throughput batch {b})', '',
                  'img/s: median over repetitions; ratios: median of per-repetition ratios (rows run in turn, order '
                  'reversed every other repetition)', '',
                  f'| size | implementation | mode | img/s (batch {b}) | x mmpose fp32 | x best mmpose/HF | '
                  f'p50 / p95 ms (batch {b}) | p50 / p95 ms (batch 1) | peak MB | GFLOP/s | % of matmul | '
                  'heatmap max abs diff vs fp32 (rel. to peak) |', '|' + '---|' * 12]
    rel = ratios(results)
    for i, r in enumerate(results['inference']):
        t, lat = r['throughput'], r['latency']
        achieved = t['images_per_s'] * r['flops_per_image']
        diff = f"{r['max_abs']:.2e} ({r['max_abs'] / r['peak_fp32']:.1e})" if r['peak_fp32'] else 'n/a'
        lines.append(f"| {r['size']} | {r['impl']} | {r['mode']} | {t['images_per_s']:.2f} | "
                     f"{_x(rel[i]['vs_mmpose_fp32'])} | {_x(rel[i]['vs_best'])} | {t['p50_ms']:,.0f} / "
                     f"{t['p95_ms']:,.0f} | {lat['p50_ms']:,.0f} / {lat['p95_ms']:,.0f} | {_mb(r['memory'])} | "
                     f"{achieved / 1e9:,.0f} | {_percent(achieved / _matmul(results, r['mode']))} | {diff} |")
    if results.get('training'):
        lines += ['', f"## Training (AdamW steps, random targets, batch {results['train_batch']})", '',
                  '| size | implementation | mode | img/s | p50 ms | '
                  'peak MB (forward + backward, beyond weights and gradients) |',
                  '|---|---|---|---|---|---|']
        lines += [f"| {r['size']} | {r['impl']} | {r['mode']} | {r['images_per_s']:.2f} | {r['p50_ms']:,.0f} | "
                  f"{r['memory'] / MB:,.0f} |" for r in results['training']]
    if results.get('people'):
        lines += ['', '## People per image (PoseEstimator, this package, crops batched)', '',
                  '| size | precision | people | ms per person |', '|---|---|---|---|']
        lines += [f"| {r['size']} | {r['precision']} | {r['people']} | {r['ms_per_person']:,.0f} |"
                  for r in results['people']]
    lines += people_markdown(results.get('people_bottomup') or [])
    lines += ['', 'Peak memory: CUDA, the allocator\'s peak above the weights; CPU, torch\'s own allocations during '
              'one call replayed from torch.profiler\'s memory events (activations and workspaces; weights and inputs '
              'excluded; memory allocated outside torch, e.g. by oneDNN, is not seen). GFLOP/s: images/s x FLOPs per '
              'crop counted on this package\'s model (FlopCounterMode); % of matmul: of the same-dtype 2048^3 matmul '
              'measured in this run.']
    return '\n'.join(lines) + '\n'


def chart(results: dict, path: str) -> None:
    """Bar chart of images/s at the throughput batch, one bar per row, grouped by size (nothing without rows)."""
    if not results['inference']:
        return
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows: List[dict] = results['inference']
    colours = {'vitpose_mm': '#1f77b4', 'mmpose': '#ff7f0e', 'hf': '#2ca02c'}
    fig, ax = plt.subplots(figsize=(max(6, 0.55 * len(rows) + 2), 4))
    labels = [f"{r['size']} {r['impl']}\n{r['mode']}" for r in rows]
    speeds = [r['throughput']['images_per_s'] for r in rows]
    ax.bar(range(len(rows)), speeds, color=[colours.get(r['impl'], '#7f7f7f') for r in rows])
    ax.set_xticks(range(len(rows)), labels, rotation=60, ha='right', fontsize=7)
    ax.set_ylabel(f"images/s (batch {results['batch']})")
    ax.set_title(f"ViTPose inference, {results['device']}, {results['threads']} threads")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(results: dict, out_dir: str, command: str = '') -> Dict[str, str]:
    """Write ``benchmark.md``, ``benchmark.json`` and ``benchmark.png`` into ``out_dir``; returns their paths."""
    import json
    os.makedirs(out_dir, exist_ok=True)
    paths = {k: osp.join(out_dir, f'benchmark.{k}') for k in ('md', 'json', 'png')}
    with open(paths['json'], 'w') as f:  # first: the measurements survive a failing table or chart
        json.dump(results, f, indent=1)
    with open(paths['md'], 'w') as f:
        f.write(markdown(results, command))
    chart(results, paths['png'])
    if not osp.isfile(paths['png']):
        del paths['png']
    return paths


__all__ = ['markdown', 'chart', 'ratios', 'write_report']
