"""Pose estimation on an image, a folder of images or a video: top-down with person boxes (mmdet, a box file, the
command line or the whole image), or bottom-up with no boxes at all.

    python tools/demo.py INPUT --pose-config CONFIG --pose-checkpoint CKPT [--det-config DET --det-checkpoint DCKPT |
        --bbox-file BOXES.json [--bbox-cat-ids ID [ID ...] | all] | --bbox X1 Y1 X2 Y2 [--bbox ...] [--bbox-format xyxy|xywh]] [--out-dir DIR] [--device cpu] [--bbox-thr 0.3] [--nms-thr 0.3] [--kpt-thr 0.3]
        [--det-cat-id 0] [--smooth] [--precision fp32|bf16|fp16] [--compile]
    python tools/demo.py INPUT --pose-config BOTTOMUP_CONFIG --pose-checkpoint CKPT [--person-thr 0.1] ...
    mim run vitpose_mm demo INPUT ...

INPUT is an image, a folder of images or a video (by extension). Person boxes come from any mmdet detector
(``--det-config/--det-checkpoint``), from a COCO-format box file keyed by image file name or id (``--bbox-file``, images
only; its categories ``--bbox-cat-ids``, by default the pose config's: person for the human configs, every species
for the animal ones), from the command line (``--bbox``, the same boxes for every image or frame, ``--bbox-format``
xyxy or xywh), or, with none of these, the whole image is one person box. A bottom-up config
(``BottomupPoseEstimator``, e.g. ``configs/bottomup/``) finds every person itself: box options are refused,
``--person-thr`` is the person score it keeps. Boxes are used as given, never clipped (the box convention of
``vitpose_mm/apis/boxes.py``, shared with ``tools/test.py``). ``--pose-config`` may be a config name of the package.

Writes to OUT_DIR ``vis/<file name>`` and ``predictions.json`` (COCO keypoint results) for images, ``<name>.mp4`` and
``<name>.json`` (one record per frame and person, with track ids) for a video; unreadable images and frames are
skipped. The loop lives in ``vitpose_mm/apis/demo_runner.py`` (``run_demo``); see docs/inference.md.
"""
import argparse

from vitpose_mm.apis import BBOX_FORMATS
from vitpose_mm.apis.demo_runner import DemoError, DemoOptions, run_demo, summary_line
from vitpose_mm.checkpoints import CheckpointMismatchError
from vitpose_mm.models.pose_estimators import PRECISIONS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='ViTPose (top-down with person boxes, or bottom-up without) on an image, a folder '
                                     'of images or a video.')
    parser.add_argument('input', help='an image, a folder of images or a video file')
    parser.add_argument('--pose-config', required=True,
                        help='pose config file, or a config file name from the package configs/')
    parser.add_argument('--pose-checkpoint', required=True,
                        help='pose checkpoint of any public layout (converted on the way; refused with a diagnosis '
                        'when it does not fit)')
    parser.add_argument('--det-config', help='mmdet detector config file')
    parser.add_argument('--det-checkpoint', help='mmdet detector checkpoint')
    parser.add_argument('--bbox-file', help='COCO-format person boxes (detection results or an annotation file), '
                        'keyed by image file name or id; images only')
    parser.add_argument('--bbox-cat-ids', nargs='+', default=None, metavar='ID',
                        help="the --bbox-file categories to keep: category ids, or 'all' (default: the pose config's "
                        'test_dataloader.dataset.bbox_cat_ids, else 1, COCO\'s person; the animal configs keep '
                        'every species); what is dropped is counted in the log')
    parser.add_argument('--bbox', nargs='+', type=float, action='append', metavar='V',
                        help='a person box, 4 numbers (+ an optional score) in --bbox-format; repeat for more boxes; '
                        'used for every image or frame')
    parser.add_argument('--bbox-format', choices=BBOX_FORMATS, default=None,
                        help='format of --bbox: xyxy (x1 y1 x2 y2, the default) or xywh (x y width height); '
                        '--bbox-file is COCO, always x y width height')
    parser.add_argument('--out-dir', default='work_dirs/inference', help='output folder (default: work_dirs/inference)')
    parser.add_argument('--device', default='cpu', help='device, e.g. cpu or cuda:0 (default: cpu)')
    parser.add_argument('--precision', choices=PRECISIONS, default=None,
                        help='pose model precision: fp32, bf16 (CPU and CUDA) or fp16 (CUDA); default: the config\'s '
                        'model.test_cfg.precision, else fp32 (docs/speed.md)')
    parser.add_argument('--compile', action='store_true', help='torch.compile the pose model (docs/speed.md)')
    parser.add_argument('--bbox-thr', type=float, default=0.3, help='person box score threshold (default: 0.3)')
    parser.add_argument('--nms-thr', type=float, default=0.3, help='IoU threshold of box NMS (default: 0.3)')
    parser.add_argument('--person-thr', type=float, default=0.1,
                        help='bottom-up configs: keep people scored above this (default: 0.1)')
    parser.add_argument('--kpt-thr', type=float, default=0.3, help='keypoints below are not drawn (default: 0.3)')
    parser.add_argument('--det-cat-id', type=int, default=0,
                        help="the detector's label of person (default: 0, COCO-trained mmdet detectors)")
    parser.add_argument('--track-iou-thr', type=float, default=0.3,
                        help='video: IoU with the previous frame that keeps a track id (default: 0.3)')
    parser.add_argument('--smooth', action='store_true', help='video: One Euro smoothing of keypoints over time')
    parser.add_argument('--draw-bbox', action='store_true', help='draw the person boxes too')
    parser.add_argument('--radius', type=int, default=3, help='keypoint radius in pixels (default: 3)')
    parser.add_argument('--thickness', type=int, default=2, help='limb line width in pixels (default: 2)')
    args = parser.parse_args(argv)
    if (args.det_config is None) != (args.det_checkpoint is None):
        parser.error('--det-config and --det-checkpoint go together')
    if sum(map(bool, (args.det_config, args.bbox_file, args.bbox))) > 1:
        parser.error('give at most one of a detector, --bbox-file and --bbox')
    if args.bbox_format and not args.bbox:
        parser.error('--bbox-format is the format of --bbox boxes (a --bbox-file is COCO: always x y width height)')
    for box in args.bbox or ():
        if len(box) not in (4, 5):
            parser.error(f'--bbox takes 4 numbers (+ an optional score), got {len(box)}: {box}')
    if args.bbox_cat_ids is not None:
        if not args.bbox_file:
            parser.error('--bbox-cat-ids selects the categories of a --bbox-file')
        if args.bbox_cat_ids == ['all']:
            args.bbox_cat_ids = None
        elif not all(c.isdigit() for c in args.bbox_cat_ids):
            parser.error(f"--bbox-cat-ids takes category ids or 'all', got {' '.join(args.bbox_cat_ids)}")
        else:
            args.bbox_cat_ids = [int(c) for c in args.bbox_cat_ids]
    else:
        args.bbox_cat_ids = 'config'
    args.bbox_format = args.bbox_format or 'xyxy'
    if args.bbox:
        args.bbox = [box + [1.0] if len(box) == 4 else box for box in args.bbox]  # score 1 when none is given
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    options = DemoOptions(out_dir=args.out_dir, bbox=args.bbox, bbox_format=args.bbox_format, kpt_thr=args.kpt_thr,
                          draw_bbox=args.draw_bbox, radius=args.radius, thickness=args.thickness,
                          track_iou_thr=args.track_iou_thr, smooth=args.smooth)
    try:
        summary = run_demo(args.input, args.pose_config, args.pose_checkpoint, args.det_config, args.det_checkpoint,
                           args.bbox_file, device=args.device, det_cat_id=args.det_cat_id, bbox_thr=args.bbox_thr,
                           nms_thr=args.nms_thr, options=options, precision=args.precision, compile=args.compile,
                           bbox_cat_ids=args.bbox_cat_ids, person_thr=args.person_thr)
    except (DemoError, CheckpointMismatchError) as e:  # what is wrong (and the fix), without a traceback
        raise SystemExit(f'error: {e}')
    print(f'[demo] {summary_line(summary)}')
    return summary


if __name__ == '__main__':
    main()
