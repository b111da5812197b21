"""The demo's loop: pose estimation (top-down, or bottom-up without boxes) on an image, a folder of images or a video,
written to a folder.

``tools/demo.py`` is its command line (argparse plus :func:`run_demo`). Writes to ``DemoOptions.out_dir``:

- images: ``vis/<file name>`` with the skeletons drawn, and ``predictions.json`` in the COCO keypoint-results format
  (``image_id``: the file name's number, e.g. 785 for ``000000000785.jpg``, else the image's index in sorted order;
  plus ``file_name``);
- a video: ``<name>.mp4`` with the skeletons and track ids drawn, and ``<name>.json``: one record per frame and person
  (``frame_id``, ``track_id``, ``keypoints``, ``score``, ``bbox``), written as frames stream through.

An unreadable image in a folder is reported and skipped; unreadable video frames are skipped (the previous output
frame is repeated so the output keeps the input's timing). See docs/inference.md.
"""
import json
import logging
import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import List, Optional, Sequence

import cv2
from mmengine.logging import print_log

from vitpose_mm.datasets.facts import instance_noun

from .bottomup import BOTTOMUP, config_data_mode, refuse_boxes
from .boxes import COCO_PERSON_ID, BoxCounts, BoxFile, CatIds, as_boxes, describe_cat_ids
from .images import load_image
from .inference import PoseEstimator
from .tracking import IoUTracker, KeypointSmoother
from .visualization import build_visualizer, draw_people

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm', '.pbm')
VIDEO_EXTS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv', '.flv', '.ts')
MAX_BAD_FRAMES_IN_A_ROW = 25


class DemoError(RuntimeError):
    """Input the demo cannot use (missing input or checkpoint, no images, an unreadable image or video); the message
    names it. ``tools/demo.py`` prints it as ``error: <message>`` without a traceback."""


@dataclass
class DemoOptions:
    """What the demo writes and draws.

    Args:
        out_dir: output folder (created).
        bbox: person boxes used for every image or frame, each 5 numbers (4 in ``bbox_format`` + a score), or None
            (boxes from the estimator's detector, a box file, or the whole image).
        bbox_format: ``'xyxy'`` or ``'xywh'`` (``vitpose_mm.apis.BBOX_FORMATS``), the format of ``bbox``.
        kpt_thr: keypoints with a lower score are not drawn.
        draw_bbox: draw the person boxes too.
        radius: keypoint radius in pixels.
        thickness: limb line width in pixels.
        track_iou_thr: video: IoU with the previous frame that keeps a track id.
        smooth: video: One Euro smoothing of keypoints over time.
    """
    out_dir: str = 'work_dirs/inference'
    bbox: Optional[List[List[float]]] = None
    bbox_format: str = 'xyxy'
    kpt_thr: float = 0.3
    draw_bbox: bool = False
    radius: int = 3
    thickness: int = 2
    track_iou_thr: float = 0.3
    smooth: bool = False


def progress(total: Optional[int], desc: str):
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


def list_images(folder: str) -> List[str]:
    """The image files of ``folder`` (by extension, ``IMAGE_EXTS``), sorted by name.

    Raises:
        DemoError: when there is none.
    """
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTS))
    if not names:
        raise DemoError(f'no images ({", ".join(IMAGE_EXTS)}) in {folder}')
    return [osp.join(folder, n) for n in names]


def run_images(paths: Sequence[str], estimator: PoseEstimator, options: DemoOptions,
               box_file: Optional[BoxFile] = None) -> dict:
    """Estimate, draw and write the people of each image; ``predictions.json`` holds all of them (COCO results).

    Returns:
        dict with ``images`` (read), ``skipped`` (unreadable paths), ``people`` (instances found: people or
        animals), ``outputs`` (written paths) and, with a box file, ``boxes`` (a ``BoxCounts``: kept, and dropped
        by category, score, size and NMS).

    Raises:
        DemoError: when the only image given cannot be read (one of several is skipped with a warning).
    """
    vis_dir = osp.join(options.out_dir, 'vis')
    os.makedirs(vis_dir, exist_ok=True)
    visualizer = build_visualizer(estimator.dataset_meta, options.radius, options.thickness)
    stems = [osp.splitext(osp.basename(p))[0] for p in paths]
    numeric = all(s.isdigit() for s in stems)
    records, skipped, missing_boxes, filtered_out, counts = [], [], 0, 0, BoxCounts()
    bar = progress(len(paths), 'images')
    for index, path in enumerate(paths):
        try:
            img = load_image(path)
        except (FileNotFoundError, ValueError) as e:
            if len(paths) == 1:
                raise DemoError(str(e)) from e
            print_log(f'skipped: {e}', 'current', logging.WARNING)
            skipped.append(path)
            bar.update()
            continue
        boxes = as_boxes(options.bbox, options.bbox_format) if options.bbox else None
        if box_file is not None:
            other = box_file.num_other_category(path)
            if path not in box_file:  # no record at all, or only records of categories not kept
                filtered_out += other > 0
                missing_boxes += other == 0
            counts.total += other
            counts.other_category += other
            boxes = estimator.select_boxes(box_file[path], img.shape[:2], counts=counts)
        people = estimator(img, boxes)
        image_id = int(stems[index]) if numeric else index
        records += [dict(person.to_coco(image_id), file_name=osp.basename(path)) for person in people]
        cv2.imwrite(osp.join(vis_dir, osp.basename(path)),
                    draw_people(visualizer, img, people, options.kpt_thr, options.draw_bbox))
        bar.update()
    bar.close()
    with open(osp.join(options.out_dir, 'predictions.json'), 'w') as f:
        json.dump(records, f)
    if missing_boxes:
        print_log(f'{missing_boxes} image(s) have no entry in {box_file.path}: no boxes there', 'current',
                  logging.WARNING)
    if filtered_out:
        print_log(f'{filtered_out} image(s) have boxes in {box_file.path} only of categories not kept '
                  f'({describe_cat_ids(box_file.cat_ids)}): no boxes there; --bbox-cat-ids chooses the categories',
                  'current', logging.WARNING)
    summary = dict(images=len(paths) - len(skipped), skipped=skipped, people=len(records),
                   outputs=[vis_dir, osp.join(options.out_dir, 'predictions.json')])
    if box_file is not None:
        summary['boxes'] = counts
        print_log(f'{box_file.path} ({describe_cat_ids(box_file.cat_ids)}), on these images: {counts.describe()}',
                  'current')
    return summary


def run_video(path: str, estimator: PoseEstimator, options: DemoOptions) -> dict:
    """Estimate, track (IoU), optionally smooth (One Euro) and draw the people of each frame of a video.

    Returns:
        dict with ``frames`` (decoded), ``bad_frames`` (undecodable frame ids), ``people`` (over all frames),
        ``tracks`` (track ids given) and ``outputs`` (the video and JSON paths).

    Raises:
        DemoError: when the video cannot be opened, no frame decodes, or OpenCV cannot write mp4v.
    """
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise DemoError(f'cannot open video {path}')
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if fps and fps > 0 and fps == fps else 25.0
    num_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None  # from the header; may be an estimate
    os.makedirs(options.out_dir, exist_ok=True)
    stem = osp.splitext(osp.basename(path))[0]
    video_out, json_out = osp.join(options.out_dir, stem + '.mp4'), osp.join(options.out_dir, stem + '.json')
    visualizer = build_visualizer(estimator.dataset_meta, options.radius, options.thickness)
    tracker = IoUTracker(options.track_iou_thr)
    smoother = KeypointSmoother(fps) if options.smooth else None
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
            people = estimator(frame, as_boxes(options.bbox, options.bbox_format) if options.bbox else None)
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
            drawn = draw_people(visualizer, frame, people, options.kpt_thr, options.draw_bbox)
            if writer is None:
                h, w = drawn.shape[:2]
                writer = cv2.VideoWriter(video_out, cv2.VideoWriter_fourcc(*'mp4v'), fps, (w, h))
                if not writer.isOpened():
                    raise DemoError(f'cannot write video {video_out} (OpenCV without an mp4v encoder?)')
            elif drawn.shape[:2] != (h, w):
                drawn = cv2.resize(drawn, (w, h))
            writer.write(drawn)
            bar.update()
        jf.write('\n]\n')
    bar.close()
    cap.release()
    if writer is None:
        raise DemoError(f'no frame of {path} could be decoded')
    writer.release()
    return dict(frames=decoded, bad_frames=bad_frames, people=people_total, tracks=tracker.next_id,
                outputs=[video_out, json_out])


def run_demo(input_path: str, pose_config: str, pose_checkpoint: str, det_config: Optional[str] = None,
             det_checkpoint: Optional[str] = None, bbox_file: Optional[str] = None, device: str = 'cpu',
             det_cat_id: int = 0, bbox_thr: float = 0.3, nms_thr: float = 0.3,
             options: Optional[DemoOptions] = None, precision: Optional[str] = None,
             compile: bool = False, bbox_cat_ids: CatIds = 'config', person_thr: float = 0.1) -> dict:
    """Build the estimator (``PoseEstimator.from_config``) and run it on ``input_path``: an image, a folder of images or
    a video (by extension, ``VIDEO_EXTS``).

    A bottom-up config (``BottomupPoseEstimator``) finds the people itself: no boxes, ``person_thr`` is the person
    score it keeps (:class:`PoseEstimator`); a detector, a box file or ``options.bbox`` are refused (DemoError naming
    the option).

    ``precision`` and ``compile`` are the pose model's fast paths (see :class:`PoseEstimator`; None: the config's).
    Person boxes come from the detector (``det_config``/``det_checkpoint``), from a COCO box file (``bbox_file``,
    images only), from ``options.bbox``, or, with none of these, the whole image is one box. ``bbox_cat_ids``: the
    box file's categories to keep (an id, ids, or None/``'all'``: every one); ``'config'`` (default) takes the pose
    config's ``test_dataloader.dataset.bbox_cat_ids`` (the animal configs: every species), else 1 (COCO's person).

    Returns:
        the summary of :func:`run_images` or :func:`run_video`, plus ``dropped_boxes`` (degenerate boxes the
        estimator dropped), ``noun`` (what the instances are: ``people``, ``animals`` or ``instances``, from the
        pose model's dataset) and ``seconds`` (time of the loop, without building the estimator).

    Raises:
        DemoError: bad input (see above); CheckpointMismatchError: the pose checkpoint does not fit the config (the
        message says what it is and the fix).
    """
    options = options or DemoOptions()
    if not osp.exists(input_path):
        raise DemoError(f'input not found: {input_path}')
    refuse_boxes_for_bottomup(pose_config, det_config=det_config, bbox_file=bbox_file, bbox=options.bbox)
    is_video = osp.isfile(input_path) and input_path.lower().endswith(VIDEO_EXTS)
    if is_video and bbox_file:
        raise DemoError('--bbox-file gives boxes per image file; use a detector (or none) for videos')
    if not osp.isfile(pose_checkpoint) and '://' not in pose_checkpoint:
        raise DemoError(f'pose checkpoint not found: {pose_checkpoint}')
    try:
        estimator = PoseEstimator.from_config(pose_config, pose_checkpoint, det_config, det_checkpoint,
                                              device=device, det_cat_id=det_cat_id, bbox_thr=bbox_thr,
                                              nms_thr=nms_thr, precision=precision, compile=compile,
                                              person_thr=person_thr)
    except ValueError as e:  # a module mmpose lacks, a precision the device refuses: the message names it
        raise DemoError(str(e)) from e
    if bbox_cat_ids == 'config':
        cfg = getattr(estimator.pose_model, 'cfg', None)
        test_set = ((cfg.get('test_dataloader') or {}).get('dataset') or {}) if cfg is not None else {}
        bbox_cat_ids = test_set.get('bbox_cat_ids', COCO_PERSON_ID)
    box_file = BoxFile(bbox_file, cat_ids=bbox_cat_ids) if bbox_file else None
    start = time.time()
    if is_video:
        summary = run_video(input_path, estimator, options)
    else:
        paths = list_images(input_path) if osp.isdir(input_path) else [input_path]
        summary = run_images(paths, estimator, options, box_file)
    summary['dropped_boxes'] = estimator.num_dropped_boxes
    summary['noun'] = instance_noun((estimator.dataset_meta or {}).get('dataset_name'))
    summary['seconds'] = time.time() - start
    return summary


def refuse_boxes_for_bottomup(pose_config: str, **box_options) -> None:
    """DemoError naming the first person-box option given (as its command-line flag, e.g. ``--det-config``) when
    ``pose_config`` is bottom-up."""
    given = [name for name, value in box_options.items() if value]
    if not given:
        return
    from vitpose_mm.utils import load_config
    try:
        cfg = load_config(pose_config)
    except FileNotFoundError as e:
        raise DemoError(str(e)) from e
    if config_data_mode(cfg) == BOTTOMUP:
        raise DemoError(str(refuse_boxes('--' + given[0].replace('_', '-'), pose_config)))


def summary_line(summary: dict) -> str:
    """The one-line report of a :func:`run_demo` summary, e.g. ``4 images (0 unreadable, skipped), 17 people, ...``
    (``animals`` or ``instances`` for the models of other datasets)."""
    noun = summary.get('noun', 'people')
    if 'frames' in summary:
        what = f'{summary["frames"]} frames ({len(summary["bad_frames"])} undecodable, skipped), ' \
               f'{summary["people"]} {noun} in {summary["tracks"]} tracks'
    else:
        what = f'{summary["images"]} images ({len(summary["skipped"])} unreadable, skipped), ' \
               f'{summary["people"]} {noun}'
        if 'boxes' in summary:
            what += f' ({summary["boxes"].describe()})'
    return f'{what}, {summary["dropped_boxes"]} degenerate boxes dropped, {summary["seconds"]:.1f} s ' \
           f'-> {", ".join(summary["outputs"])}'
