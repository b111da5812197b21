"""Write the synthetic COCO person-keypoint dataset (drawn people) used by the demo and the tests.

Example::

    python tools/make_synthetic_data.py data/synthetic --num-train 800 --num-val 200 --seed 0
"""
import argparse
import sys
import time

from vitpose_mm.synthetic import generate_synthetic_coco


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write a COCO person-keypoint dataset of procedurally drawn people: '
        'OUT_DIR/annotations/person_keypoints_{train,val}.json and OUT_DIR/{train,val}/*.jpg.')
    parser.add_argument('out_dir', help='output folder (missing, empty, or an earlier synthetic dataset)')
    parser.add_argument('--num-train', type=int, default=800, help='training images (default: 800)')
    parser.add_argument('--num-val', type=int, default=200, help='validation images (default: 200)')
    parser.add_argument('--width', type=int, default=320, help='image width in pixels (default: 320)')
    parser.add_argument('--height', type=int, default=256, help='image height in pixels (default: 256)')
    parser.add_argument('--seed', type=int, default=0, help='random seed; same seed, same files (default: 0)')
    parser.add_argument('--overwrite', action='store_true',
                        help='write into a non-empty folder that holds no synthetic dataset (its train/, val/ '
                        'and annotations/ sub-folders are replaced)')
    parser.add_argument('--quiet', action='store_true', help='no progress output, only the summary line')
    return parser.parse_args(argv)


class _Progress:
    """Progress on stderr: a rewritten line on a terminal, a line every 10 % otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = {}

    def __call__(self, split: str, done: int, total: int) -> None:
        step = max(1, total // 10)
        if self.tty:
            end = '\n' if done == total else ''
            print(f'\r[{split}] {done}/{total}', end=end, file=sys.stderr, flush=True)
        elif done == total or done - self.last.get(split, 0) >= step:
            self.last[split] = done
            print(f'[{split}] {done}/{total}', file=sys.stderr, flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        result = generate_synthetic_coco(args.out_dir, num_train=args.num_train, num_val=args.num_val,
                                         width=args.width, height=args.height, seed=args.seed,
                                         overwrite=args.overwrite, progress=None if args.quiet else _Progress())
    except (ValueError, FileExistsError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    train, val = result['train'], result['val']
    print(f"wrote {train['num_images']} train images ({train['num_instances']} people) and {val['num_images']} val "
          f"images ({val['num_instances']} people) at {args.width}x{args.height}, seed {args.seed}, to "
          f"{result['root']} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == '__main__':
    sys.exit(main())
