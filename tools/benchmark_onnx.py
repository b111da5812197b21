"""Forward throughput of an exported model: onnxruntime against the torch model it came from (docs/deploy.md).

    python tools/benchmark_onnx.py [CONFIG] [--checkpoint CKPT] [--onnx MODEL.onnx] [--batch 8] [--reps 5] [--threads 2]

Same random crops, same thread count, repetitions interleaved (torch, onnxruntime, torch, ...) so that a change of
machine load hits both; prints each repetition, the median images/s of each and their ratio, and the max heatmap
difference. Without ``--onnx`` the model is exported first (fp32) into a temporary folder. The full side-by-side
benchmark (mmpose, HF, fast paths) is tools/benchmark.py.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile

from mmengine.config import DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Images/s of onnxruntime against torch (fp32, forward only) for '
                                     'one exported ViTPose.')
    parser.add_argument('config', nargs='?', default='td-hm_ViTPose-base_8xb64-210e_coco-256x192',
                        help='config file or shipped config name (default: ViTPose-B 256x192)')
    parser.add_argument('--checkpoint', help='checkpoint (default: random weights; speed does not depend on them)')
    parser.add_argument('--onnx', help='an export of CONFIG (default: export now, into a temporary folder)')
    parser.add_argument('--dataset', help='ViTPose+: the dataset to export (see tools/export_onnx.py)')
    parser.add_argument('--batch', type=int, default=8, help='crops per forward')
    parser.add_argument('--reps', type=int, default=5, help='timed repetitions of each (after one warm-up)')
    parser.add_argument('--threads', type=int, default=2, help='intra-op threads of torch and onnxruntime')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='override config entries, e.g. model.backbone.depth=2')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np
    import torch

    import vitpose_mm  # noqa: F401
    from vitpose_mm.deploy import build_export_source, build_onnx_runner, export_onnx
    from vitpose_mm.deploy.speed import interleaved_rates, torch_and_onnx_forwards
    if args.threads < 1:
        print(f'error: --threads must be >= 1, got {args.threads}', file=sys.stderr)
        return 1
    torch.set_num_threads(args.threads)
    try:
        source = build_export_source(args.config, args.checkpoint, args.dataset, args.cfg_options)
        with tempfile.TemporaryDirectory() as tmp:
            path = args.onnx
            if path is None:
                print('exporting (fp32) ...', flush=True)
                path = export_onnx(source, osp.join(tmp, 'model.onnx'))
            w, h = source.input_size
            crops = np.random.default_rng(0).standard_normal((args.batch, 3, h, w), dtype=np.float32)
            forwards = torch_and_onnx_forwards(
                source.model, build_onnx_runner(path, ['CPUExecutionProvider'], args.threads), crops)
            rate = interleaved_rates(forwards, args.batch, args.reps, lambda line: print(line, flush=True))
            diff = np.abs(forwards['torch']() - forwards['onnxruntime']()).max()
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'load average (1, 5, 15 min) at the end: {", ".join(f"{v:.1f}" for v in os.getloadavg())} on '
          f'{os.cpu_count()} cores')
    print(f'{args.config}, batch {args.batch}, {args.threads} threads, median of {args.reps}: torch fp32 '
          f'{rate["torch"]:.2f} img/s, onnxruntime fp32 {rate["onnxruntime"]:.2f} img/s, ratio '
          f'{rate["onnxruntime"] / rate["torch"]:.2f}x; max heatmap difference {diff:.2g}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
