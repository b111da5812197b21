"""Keypoint displacement between two prediction dumps of ``tools/test.py --out``, e.g. bf16 against fp32.

    python tools/test.py CONFIG CKPT --out fp32.pkl
    python tools/test.py CONFIG CKPT --out bf16.pkl --precision bf16
    python tools/compare_predictions.py fp32.pkl bf16.pkl
"""
import argparse
import os.path as osp
import sys

from vitpose_mm.analysis.compare_predictions import keypoint_displacement


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description='Mean / median / p99 / max distance in image pixels between the '
                                     'keypoints of two tools/test.py --out dumps of the same data.')
    parser.add_argument('reference', help='.pkl dump, e.g. of the fp32 run')
    parser.add_argument('other', help='.pkl dump of the same config and data, e.g. with --precision bf16')
    args = parser.parse_args(argv)
    for path in (args.reference, args.other):
        if not osp.isfile(path):
            parser.error(f'not found: {path}')
    try:
        d = keypoint_displacement(args.reference, args.other)
    except ValueError as e:
        raise SystemExit(f'error: {e}')
    print(f"{d['count']} keypoints: mean {d['mean']:.4f} px, median {d['median']:.4f}, p99 {d['p99']:.3f}, "
          f"max {d['max']:.2f}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
