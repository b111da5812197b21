"""Top-down pose estimation on an image, a folder of images or a video, with person boxes from mmdet.

    python tools/demo.py INPUT --pose-config CONFIG --pose-checkpoint CKPT [--det-config DET --det-checkpoint DCKPT |
        --bbox-file BOXES.json | --bbox X1 Y1 X2 Y2 [--bbox ...] [--bbox-format xyxy|xywh]] [--out-dir DIR] [--device cpu] [--bbox-thr 0.3] [--nms-thr 0.3] [--kpt-thr 0.3]
        [--det-cat-id 0] [--smooth]
    mim run vitpose_mm demo INPUT ...

INPUT is an image, a folder of images or a video (by extension). Person boxes come from any mmdet detector
(``--det-config/--det-checkpoint``), from a COCO-format box file keyed by image file name or id (``--bbox-file``, images
only), from the command line (``--bbox``, the same boxes for every image or frame, ``--bbox-format`` xyxy or xywh), or,
with none of these, the whole image is one person box. Boxes are used as given, never clipped (the box convention of
``vitpose_mm/apis/boxes.py``, shared with ``tools/test.py``). ``--pose-config`` may be a config name of the package.

Writes to OUT_DIR:
- images: ``vis/<file name>`` with the skeletons drawn, and ``predictions.json`` in the COCO keypoint-results format
  (``image_id``: the file name's number, e.g. 785 for ``000000000785.jpg``, else the image's index in sorted order;
  plus ``file_name``);
- a video: ``<name>.mp4`` with the skeletons and track ids drawn, and ``<name>.json``: one record per frame and person
  (``frame_id``, ``track_id``, ``keypoints``, ``score``, ``bbox``), written as frames stream through.

An unreadable image in a folder is reported and skipped; unreadable video frames are skipped (the previous output
frame is repeated so the output keeps the input's timing). See docs/inference.md.
"""
import argparse
import json
import logging
import os
import os.path as osp
import time

import cv2
from mmengine.logging import print_log

from vitpose_mm.apis import (BBOX_FORMATS, BoxFile, IoUTracker, KeypointSmoother, PoseEstimator, as_boxes,
                             build_visualizer, draw_people, load_image)
from vitpose_mm.checkpoints import CheckpointMismatchError

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm', '.pbm')
VIDEO_EXTS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv', '.flv', '.ts')
MAX_BAD_FRAMES_IN_A_ROW = 25


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Top-down ViTPose on an image, a folder of images or a video.')
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
    parser.add_argument('--bbox', nargs='+', type=float, action='append', metavar='V',
                        help='a person box, 4 numbers (+ an optional score) in --bbox-format; repeat for more boxes; '
                        'used for every image or frame')
    parser.add_argument('--bbox-format', choices=BBOX_FORMATS, default=None,
                        help='format of --bbox: xyxy (x1 y1 x2 y2, the default) or xywh (x y width height); '
                        '--bbox-file is COCO, always x y width height')
    parser.add_argument('--out-dir', default='work_dirs/inference', help='output folder (default: work_dirs/inference)')
    parser.add_argument('--device', default='cpu', help='device, e.g. cpu or cuda:0 (default: cpu)')
    parser.add_argument('--bbox-thr', type=float, default=0.3, help='person box score threshold (default: 0.3)')
    parser.add_argument('--nms-thr', type=float, default=0.3, help='IoU threshold of box NMS (default: 0.3)')
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
    args.bbox_format = args.bbox_format or 'xyxy'
    if args.bbox:
        args.bbox = [box + [1.0] if len(box) == 4 else box for box in args.bbox]  # score 1 when none is given
    return args


def progress(total, desc: str):
    """A progress bar with ``update()`` and ``close()``: tqdm when installed (mmdet needs it), else mmengine's."""
    try:
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, unit='img' if desc == 'images' else 'frame', dynamic_ncols=True)
    except ImportError:
        from mmengine.utils import ProgressBar

        class _Bar(ProgressBar):
            def close(self):
                self.file.write('\n')
        return _Bar(total or 0)


def list_images(folder: str):
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTS))
    if not names:
        raise SystemExit(f'error: no images ({", ".join(IMAGE_EXTS)}) in {folder}')
    return [osp.join(folder, n) for n in names]


def run_images(paths, estimator: PoseEstimator, args, box_file=None) -> dict:
    vis_dir = osp.join(args.out_dir, 'vis')
    os.makedirs(vis_dir, exist_ok=True)
    visualizer = build_visualizer(estimator.dataset_meta, args.radius, args.thickness)
    stems = [osp.splitext(osp.basename(p))[0] for p in paths]
    numeric = all(s.isdigit() for s in stems)
    records, skipped, missing_boxes = [], [], 0
    bar = progress(len(paths), 'images')
    for index, path in enumerate(paths):
        try:
            img = load_image(path)
        except (FileNotFoundError, ValueError) as e:
            if len(paths) == 1:
                raise SystemExit(f'error: {e}')
            print_log(f'skipped: {e}', 'current', logging.WARNING)
            skipped.append(path)
            bar.update()
            continue
        boxes = as_boxes(args.bbox, args.bbox_format) if args.bbox else None
        if box_file is not None:
            missing_boxes += path not in box_file
            boxes = estimator.select_boxes(box_file[path], img.shape[:2])
        people = estimator(img, boxes)
        image_id = int(stems[index]) if numeric else index
        records += [dict(person.to_coco(image_id), file_name=osp.basename(path)) for person in people]
        cv2.imwrite(osp.join(vis_dir, osp.basename(path)),
                    draw_people(visualizer, img, people, args.kpt_thr, args.draw_bbox))
        bar.update()
    bar.close()
    with open(osp.join(args.out_dir, 'predictions.json'), 'w') as f:
        json.dump(records, f)
    if missing_boxes:
        print_log(f'{missing_boxes} image(s) have no entry in {box_file.path}: no people there', 'current',
                  logging.WARNING)
    return dict(images=len(paths) - len(skipped), skipped=skipped, people=len(records),
                outputs=[vis_dir, osp.join(args.out_dir, 'predictions.json')])


def run_video(path: str, estimator: PoseEstimator, args) -> dict:
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise SystemExit(f'error: cannot open video {path}')
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if fps and fps > 0 and fps == fps else 25.0
    num_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None  # from the header; may be an estimate
    os.makedirs(args.out_dir, exist_ok=True)
    stem = osp.splitext(osp.basename(path))[0]
    video_out, json_out = osp.join(args.out_dir, stem + '.mp4'), osp.join(args.out_dir, stem + '.json')
    visualizer = build_visualizer(estimator.dataset_meta, args.radius, args.thickness)
    tracker = IoUTracker(args.track_iou_thr)
    smoother = KeypointSmoother(fps) if args.smooth else None
    writer, drawn, bad_frames, bad_in_a_row, decoded, people_total, frame_id = None, None, [], 0, 0, 0, -1
    bar = progress(num_frames, 'frames')
    # predictions are streamed into one JSON list, so nothing grows with the video's length
    with open(json_out, 'w') as jf:
        jf.write('[')
        first = True
        while True:
            ok, frame = cap.read()
            frame_id += 1
            if not ok:
                # a failed read mid-video is a corrupt frame (OpenCV moves past it); past the end it is the end
                bad_in_a_row += 1
                if num_frames is None or frame_id >= num_frames or bad_in_a_row > MAX_BAD_FRAMES_IN_A_ROW:
                    break
                bad_frames.append(frame_id)
                print_log(f'frame {frame_id} of {path} cannot be decoded: skipped', 'current', logging.WARNING)
                if writer is not None:
                    writer.write(drawn)
                bar.update()
                continue
            bad_in_a_row, decoded = 0, decoded + 1
            frame = load_image(frame)
            people = estimator(frame, as_boxes(args.bbox, args.bbox_format) if args.bbox else None)
            for person, track_id in zip(people, tracker.update([p.bbox for p in people])):
                person.track_id = track_id
            if smoother is not None:
                for person, kpts in zip(people, smoother([p.track_id for p in people],
                                                         [p.keypoints for p in people])):
                    person.keypoints = kpts
            for person in people:
                record = person.to_coco()
                del record['image_id']
                jf.write(('' if first else ',') + '\n' + json.dumps(dict(frame_id=frame_id, **record)))
                first = False
            people_total += len(people)
            drawn = draw_people(visualizer, frame, people, args.kpt_thr, args.draw_bbox)
            if writer is None:
                h, w = drawn.shape[:2]
                writer = cv2.VideoWriter(video_out, cv2.VideoWriter_fourcc(*'mp4v'), fps, (w, h))
                if not writer.isOpened():
                    raise SystemExit(f'error: cannot write video {video_out} (OpenCV without an mp4v encoder?)')
            elif drawn.shape[:2] != (h, w):
                drawn = cv2.resize(drawn, (w, h))
            writer.write(drawn)
            bar.update()
        jf.write('\n]\n')
    bar.close()
    cap.release()
    if writer is None:
        raise SystemExit(f'error: no frame of {path} could be decoded')
    writer.release()
    return dict(frames=decoded, bad_frames=bad_frames, people=people_total, tracks=tracker.next_id,
                outputs=[video_out, json_out])


def main(argv=None) -> dict:
    args = parse_args(argv)
    if not osp.exists(args.input):
        raise SystemExit(f'error: input not found: {args.input}')
    is_video = osp.isfile(args.input) and args.input.lower().endswith(VIDEO_EXTS)
    if is_video and args.bbox_file:
        raise SystemExit('error: --bbox-file gives boxes per image file; use a detector (or none) for videos')
    if not osp.isfile(args.pose_checkpoint) and '://' not in args.pose_checkpoint:
        raise SystemExit(f'error: pose checkpoint not found: {args.pose_checkpoint}')
    box_file = BoxFile(args.bbox_file) if args.bbox_file else None
    try:
        estimator = PoseEstimator.from_config(
            args.pose_config, args.pose_checkpoint, args.det_config, args.det_checkpoint, device=args.device,
            det_cat_id=args.det_cat_id, bbox_thr=args.bbox_thr, nms_thr=args.nms_thr)
    except CheckpointMismatchError as e:  # what the checkpoint is and the fix, without a traceback
        raise SystemExit(f'error: {e}')
    start = time.time()
    if is_video:
        summary = run_video(args.input, estimator, args)
        what = f'{summary["frames"]} frames ({len(summary["bad_frames"])} undecodable, skipped), ' \
               f'{summary["people"]} people in {summary["tracks"]} tracks'
    else:
        paths = list_images(args.input) if osp.isdir(args.input) else [args.input]
        summary = run_images(paths, estimator, args, box_file)
        what = f'{summary["images"]} images ({len(summary["skipped"])} unreadable, skipped), ' \
               f'{summary["people"]} people'
    summary['dropped_boxes'] = estimator.num_dropped_boxes
    print(f'[demo] {what}, {estimator.num_dropped_boxes} degenerate boxes dropped, {time.time() - start:.1f} s '
          f'-> {", ".join(summary["outputs"])}')
    return summary


if __name__ == '__main__':
    main()
