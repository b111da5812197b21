"""Draw predicted skeletons of a test run on its images, several images in one picture.

    python tools/draw_predictions.py PREDICTIONS.pkl OUT.jpg [--num 6] [--kpt-thr 0.3]

PREDICTIONS.pkl is what `tools/test.py ... --out PREDICTIONS.pkl` (or `mim test ... --out`) writes. All people of an
image are drawn together with mmpose's visualizer; the images are tiled into one picture
(``vitpose_mm.apis.visualization.draw_predictions``).
"""
import argparse

from vitpose_mm.apis.visualization import draw_predictions


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Tile images with their predicted skeletons into one picture.')
    parser.add_argument('predictions', help='.pkl written by tools/test.py --out')
    parser.add_argument('out', help='output image (.jpg or .png)')
    parser.add_argument('--num', type=int, default=6, help='number of images to draw (default: 6)')
    parser.add_argument('--kpt-thr', type=float, default=0.3, help='keypoint score threshold (default: 0.3)')
    parser.add_argument('--metainfo', default='configs/_base_/datasets/coco.py',
                        help="mmpose dataset meta file for the skeleton and colours (default: COCO's)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        people, images = draw_predictions(args.predictions, args.out, args.num, args.kpt_thr, args.metainfo)
    except (FileNotFoundError, ValueError) as e:
        raise SystemExit(f'error: {e}')
    print(f'drew {people} people on {images} images -> {args.out}')


if __name__ == '__main__':
    main()
