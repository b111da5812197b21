"""Draw predicted skeletons of a test run on its images, several images in one picture.

    python tools/draw_predictions.py PREDICTIONS.pkl OUT.jpg [--num 6] [--kpt-thr 0.3]

PREDICTIONS.pkl is what `tools/test.py ... --out PREDICTIONS.pkl` (or `mim test ... --out`) writes. All people of an
image are drawn together with mmpose's visualizer; the images are tiled into one picture.
"""
import argparse
import math
import os.path as osp
from collections import defaultdict

import cv2
import numpy as np
from mmengine.fileio import load
from mmengine.structures import InstanceData
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.structures import PoseDataSample
from mmpose.visualization import PoseLocalVisualizer


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
    if not osp.isfile(args.predictions):
        raise SystemExit(f'error: predictions not found: {args.predictions}')
    results = load(args.predictions)
    if not isinstance(results, list) or not results or 'pred_instances' not in results[0]:
        raise SystemExit(f'error: {args.predictions} is not a list of pose predictions (tools/test.py --out)')
    per_image = defaultdict(list)
    for r in results:
        per_image[r['img_path']].append(r['pred_instances'])
    visualizer = PoseLocalVisualizer(radius=3, line_width=2)
    visualizer.set_dataset_meta(parse_pose_metainfo(dict(from_file=args.metainfo)))
    tiles = []
    for img_path in sorted(per_image)[:args.num]:
        img = cv2.imread(img_path)
        if img is None:
            raise SystemExit(f'error: cannot read image {img_path}')
        instances = InstanceData(
            keypoints=np.concatenate([np.asarray(p['keypoints']) for p in per_image[img_path]]),
            keypoint_scores=np.concatenate([np.asarray(p['keypoint_scores']) for p in per_image[img_path]]))
        sample = PoseDataSample(pred_instances=instances)
        drawn = visualizer.add_datasample(
            'pred', img[:, :, ::-1], sample, draw_gt=False, draw_bbox=False, kpt_thr=args.kpt_thr, show=False)
        tiles.append(drawn[:, :, ::-1])
    h = max(t.shape[0] for t in tiles)
    w = max(t.shape[1] for t in tiles)
    cols = min(3, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    canvas = np.full((rows * h, cols * w, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        canvas[r * h:r * h + t.shape[0], c * w:c * w + t.shape[1]] = t
    cv2.imwrite(args.out, canvas)
    print(f'drew {sum(len(per_image[p]) for p in sorted(per_image)[:args.num])} people on {len(tiles)} images '
          f'-> {args.out}')


if __name__ == '__main__':
    main()
