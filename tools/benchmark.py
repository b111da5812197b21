"""ViTPose speed side by side: this package vs mmpose 1.x's own ViTPose config vs HF transformers (docs/speed.md).

    python tools/benchmark.py                                   # ViTPose-B, CPU: batch 8 and 1, training, people
    python tools/benchmark.py --sizes S B L H --device cuda     # CUDA: batch 128, fp16/bf16, compile
    mim run vitpose_mm benchmark --sizes B --threads 2
    python tools/benchmark.py --people-only --people 1 4 16 --people-sizes tiny B   # bottom-up vs top-down per image

One run, the same random crops and thread count for every row, repetitions interleaved across rows. HF transformers
runs in its own environment (``--hf-python``, default ``.venv-hf/bin/python`` made by tools/setup_hf_env.sh) and is
skipped with a note when that is absent. Writes OUT_DIR/benchmark.{md,json,png} and prints the markdown.
"""
import argparse
import os.path as osp
import shlex
import sys

import vitpose_mm  # noqa: F401  (registers the modules)
from vitpose_mm.analysis.benchmark import IMPLEMENTATIONS, SIZES
from vitpose_mm.analysis.benchmark_report import write_report
from vitpose_mm.analysis.benchmark_run import BenchmarkOptions, run_benchmark
from vitpose_mm.analysis.people import PEOPLE_PAIRS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Speed of ViTPose: vitpose_mm vs mmpose 1.x vs onnxruntime vs HF, '
                                     'inference (throughput batch and batch 1), training, people per image.')
    parser.add_argument('--sizes', nargs='+', choices=list(SIZES), default=['B'],
                        help='model sizes (default: B; S/L/H take longer)')
    parser.add_argument('--implementations', nargs='+', default=['vitpose_mm', 'mmpose', 'onnxruntime', 'hf'],
                        help=f"rows to run (default: all): {[*IMPLEMENTATIONS, 'hf']}")
    parser.add_argument('--device', default='cuda' if _cuda() else 'cpu', help='cpu or cuda[:i] (default: cuda when '
                        'present)')
    parser.add_argument('--threads', type=int, default=0, help="torch CPU threads for every row (default: torch's)")
    parser.add_argument('--batch', type=int, default=0, help='throughput batch (default: 8 on the CPU, 128 on CUDA)')
    parser.add_argument('--reps', type=int, default=3, help='timed repetitions per row at the throughput batch, '
                        'and of training and people (default: 3)')
    parser.add_argument('--latency-reps', type=int, default=6, help='timed repetitions at batch 1 (default: 6)')
    parser.add_argument('--compile', action='store_true', help="add this package's fp32 and bf16 + torch.compile "
                        'rows (compiling takes minutes on a CPU)')
    parser.add_argument('--no-train', action='store_true', help='skip the training rows')
    parser.add_argument('--train-batch', type=int, default=0, help='training batch (default: 4 on the CPU, 64 on CUDA)')
    parser.add_argument('--people', nargs='*', type=int, default=[1, 4, 16],
                        help='people per image for the per-person cost (default: 1 4 16; a bare --people skips it)')
    parser.add_argument('--people-sizes', nargs='*', choices=list(PEOPLE_PAIRS), default=['tiny', 'B'],
                        help='ViT sizes of the bottom-up vs top-down people table (default: tiny B; bare: skip it); '
                        'each needs its bottom-up config under configs/bottomup/')
    parser.add_argument('--people-only', action='store_true',
                        help='only the bottom-up vs top-down people table: no inference rows, no training, no '
                        'per-person table')
    parser.add_argument('--hf-python', default=osp.join(ROOT, '.venv-hf', 'bin', 'python'),
                        help='Python of the HF transformers environment (default: .venv-hf/bin/python)')
    parser.add_argument('--out-dir', default='work_dirs/benchmark', help='where benchmark.{md,json,png} go')
    args = parser.parse_args(argv)
    unknown = [i for i in args.implementations if i not in [*IMPLEMENTATIONS, 'hf']]
    if unknown:
        parser.error(f"unknown implementation(s) {unknown}; accepted: {[*IMPLEMENTATIONS, 'hf']}")
    for name in ('threads', 'batch', 'train_batch'):
        if getattr(args, name) < 0:
            parser.error(f'--{name.replace("_", "-")} must be >= 0')
    if args.reps < 1 or args.latency_reps < 1 or any(n < 1 for n in args.people):
        parser.error('--reps, --latency-reps and --people must be >= 1')
    if args.device.startswith('cuda') and not _cuda():
        parser.error(f'--device {args.device}: this machine has no CUDA device; use --device cpu')
    return args


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def main(argv=None) -> int:
    args = parse_args(argv)
    options = BenchmarkOptions(sizes=args.sizes, implementations=args.implementations, device=args.device,
                               threads=args.threads, batch=args.batch, reps=args.reps, latency_reps=args.latency_reps,
                               compile=args.compile, train=not args.no_train, train_batch=args.train_batch,
                               people=args.people, people_sizes=args.people_sizes, people_only=args.people_only,
                               hf_python=args.hf_python)
    results = run_benchmark(options)
    command = 'python tools/benchmark.py ' + ' '.join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    paths = write_report(results, args.out_dir, command)
    print(open(paths['md']).read())
    print(f"written: {', '.join(paths.values())}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
