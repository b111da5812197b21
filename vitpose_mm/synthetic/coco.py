"""A procedurally drawn COCO person-keypoint dataset: the project's embedded default data.

`generate_synthetic_coco` writes::

    OUT_DIR/annotations/person_keypoints_{train,val}.json   # standard COCO person keypoints
    OUT_DIR/{train,val}/000001.jpg ...
    OUT_DIR/synthetic_meta.json                              # marks the folder as ours, records the arguments

Each image holds 1-4 articulated people (see `_person.py`) over a textured, cluttered background, with
partial occlusion and truncation. Keypoint flags follow COCO: v=2 visible, v=1 inside the image but covered
(by an occluder, another person or the person's own limbs), v=0 outside the image with x=y=0. `bbox` is the box
of the person's full (amodal) silhouette clipped to the image and `area` is that box's area. (COCO uses the
mask's area; drawn people are thin, their silhouette fills only about a third of their box against about half
for real people, so the silhouette area would make OKS much stricter than on COCO for the same person size.)

Left limbs are red-orange and right limbs blue on every person, so left/right is learnable from appearance:
train without horizontal-flip augmentation (and test without flip_test) on this data.

Every image is drawn from its own generator seeded with (seed, split, index): the same seed gives identical
files, and the first N images of a split do not depend on how many images are requested.
"""
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import cv2
import numpy as np

from ._draw import draw_background, draw_occluder, finish, render_shapes
from ._person import KEYPOINT_NAMES, KEYPOINT_PARTS, NUM_PARTS, Person, sample_person

GENERATOR_VERSION = 1
META_FILE = 'synthetic_meta.json'
SPLITS = ('train', 'val')
JPEG_QUALITY = 95
# COCO's 1-based skeleton links
SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9], [8, 10],
            [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]]
_MIN_LABELLED = 3  # people with fewer labelled keypoints are drawn but not annotated
_MIN_BOX_SIDE = 8
_MIN_BOX_AREA = 600
_MIN_SIZE, _MAX_SIZE = 64, 4096

ProgressFn = Callable[[str, int, int], None]


def _check_int(name: str, value, low: int, high: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f'{name} must be an int, got {type(value).__name__} {value!r}')
    if value < low or (high is not None and value > high):
        bound = f'>= {low}' if high is None else f'in [{low}, {high}]'
        raise ValueError(f'{name} must be {bound}, got {value}')
    return int(value)


def _iou_and_cover(a: np.ndarray, b: np.ndarray) -> Tuple[float, float]:
    """IoU of two [x0, y0, x1, y1] boxes and the intersection over the smaller box."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    area_a, area_b = (a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area_a + area_b - inter), inter / min(area_a, area_b)


def _place(rng: np.random.Generator, person: Person, w: int, h: int, placed: List[np.ndarray]) -> Optional[Person]:
    """Move the person into the image (sometimes partly outside, sometimes next to another person).

    Returns None when no placement keeps people apart enough for a crop around one to be unambiguous.
    """
    box = person.extent()
    size = box[2:] - box[:2]
    for _ in range(20):
        lo, hi = -box[:2], np.array([w - 1, h - 1]) - box[2:]
        offset = np.where(lo <= hi, rng.uniform(np.minimum(lo, hi), np.maximum(lo, hi)), (lo + hi) / 2)
        if rng.random() < 0.2:  # truncation: push 15-55 % of the box over one image border
            axis, sign = rng.integers(2), rng.choice([-1, 1])
            edge = lo[axis] if sign < 0 else hi[axis]
            offset[axis] = edge + sign * rng.uniform(0.15, 0.55) * size[axis]
        elif placed and rng.random() < 0.35:  # overlap: stand beside a person already placed
            other = placed[rng.integers(len(placed))]
            centre = (other[:2] + other[2:]) / 2 + np.array(
                [rng.choice([-1, 1]) * rng.uniform(0.45, 0.8) * size[0], rng.uniform(-0.15, 0.15) * size[1]])
            offset = centre - (box[:2] + box[2:]) / 2
        moved = box + np.tile(offset, 2)
        if all(iou <= 0.35 and cover <= 0.6 for iou, cover in (_iou_and_cover(moved, p) for p in placed)):
            placed.append(moved)
            return person.shifted(offset)
    return None


def _annotate(person: Person, label: np.ndarray, base_id: int) -> Optional[dict]:
    """COCO annotation (without ids) for a drawn person, or None when it is too small or too hidden."""
    h, w = label.shape
    silhouette = np.zeros((h, w), np.uint8)
    render_shapes(person.shapes(), None, silhouette, base_id=1)
    x0, y0, bw, bh = cv2.boundingRect(silhouette)  # of the non-zero pixels
    bw, bh = bw - 1, bh - 1  # from pixel counts to the distance between the outermost pixel centres
    if min(bw, bh) < _MIN_BOX_SIDE or bw * bh < _MIN_BOX_AREA:
        return None
    keypoints = []
    for (x, y), parts in zip(person.keypoints(), KEYPOINT_PARTS):
        if not (0 <= x <= w - 1 and 0 <= y <= h - 1):
            keypoints += [0, 0, 0]
            continue
        owner = int(label[int(round(y)), int(round(x))]) - base_id
        keypoints += [round(float(x), 2), round(float(y), 2), 2 if owner in parts else 1]
    num_keypoints = sum(1 for v in keypoints[2::3] if v > 0)
    if num_keypoints < _MIN_LABELLED:
        return None
    return dict(category_id=1, keypoints=keypoints, num_keypoints=num_keypoints, bbox=[x0, y0, bw, bh],
                area=bw * bh, iscrowd=0)


def render_image(rng: np.random.Generator, width: int, height: int) -> Tuple[np.ndarray, List[dict]]:
    """One BGR image and its annotations (without ids)."""
    img = draw_background(rng, height, width)
    label = np.zeros((height, width), np.uint8)
    count = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.3, 0.2, 0.15]))
    top = {1: 1.05, 2: 0.85}.get(count, 0.7)
    people, placed = [], []
    for _ in range(count):
        size = height * np.exp(rng.uniform(np.log(0.3), np.log(top)))
        person = _place(rng, sample_person(rng, size), width, height, placed)
        if person is not None:
            people.append(person)
    for i, person in enumerate(people):  # later people stand in front of earlier ones
        render_shapes(person.shapes(), img, label, 1 + i * NUM_PARTS, person.style['outline_colour'])
    if people and rng.random() < 0.4:
        for _ in range(int(rng.integers(1, 3))):
            person = people[rng.integers(len(people))]
            centre = person.keypoints()[rng.integers(len(KEYPOINT_NAMES))] + rng.normal(0, 0.05 * person.height, 2)
            draw_occluder(rng, img, label, centre, person.height * rng.uniform(0.08, 0.25))
    annotations = [_annotate(p, label, 1 + i * NUM_PARTS) for i, p in enumerate(people)]
    return finish(rng, img), [a for a in annotations if a is not None]


def coco_categories() -> List[dict]:
    return [dict(supercategory='person', id=1, name='person', keypoints=list(KEYPOINT_NAMES), skeleton=SKELETON)]


def _write_split(root: Path, split: str, split_index: int, num: int, width: int, height: int, seed: int,
                 invert: bool, progress: Optional[ProgressFn]) -> Tuple[Path, int]:
    img_dir = root / split
    img_dir.mkdir(parents=True)
    images, annotations = [], []
    for index in range(num):
        rng = np.random.default_rng([seed, split_index, index])
        img, anns = render_image(rng, width, height)
        if invert:  # another visual domain, same people and labels
            img = 255 - img
        image_id = index + 1
        file_name = f'{image_id:06d}.jpg'
        ok, buf = cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError(f'could not encode {img_dir / file_name}')
        (img_dir / file_name).write_bytes(buf.tobytes())
        images.append(dict(id=image_id, file_name=file_name, width=width, height=height))
        for ann in anns:
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id, **ann))
        if progress is not None:
            progress(split, index + 1, num)
    coco = dict(info=dict(description=f'vitpose_mm synthetic people ({split})', version=str(GENERATOR_VERSION)),
                licenses=[], images=images, annotations=annotations, categories=coco_categories())
    ann_file = root / 'annotations' / f'person_keypoints_{split}.json'
    ann_file.write_text(json.dumps(coco, separators=(',', ':')))
    return ann_file, len(annotations)


def _prepare(root: Path, overwrite: bool) -> None:
    if root.exists() and not root.is_dir():
        raise ValueError(f'out_dir {str(root)!r} exists and is not a directory')
    if root.is_dir() and any(root.iterdir()) and not (root / META_FILE).is_file() and not overwrite:
        raise FileExistsError(f'out_dir {str(root)!r} is not empty and holds no synthetic dataset '
                              f'(no {META_FILE}); pass overwrite=True (CLI: --overwrite) to write into it anyway')
    for sub in (*SPLITS, 'annotations'):  # only our own sub-folders are replaced
        if (root / sub).is_dir():
            shutil.rmtree(root / sub)
        elif (root / sub).exists():
            (root / sub).unlink()
    (root / 'annotations').mkdir(parents=True)


def generate_synthetic_coco(out_dir: Union[str, os.PathLike],
                            num_train: int = 800,
                            num_val: int = 200,
                            width: int = 320,
                            height: int = 256,
                            seed: int = 0,
                            overwrite: bool = False,
                            invert: bool = False,
                            progress: Optional[ProgressFn] = None) -> Dict[str, object]:
    """Write a COCO person-keypoint dataset of drawn people to `out_dir`.

    Args:
        out_dir: Target folder. It may be missing, empty or hold an earlier synthetic dataset (its `train/`,
            `val/` and `annotations/` are then replaced); any other non-empty folder is refused unless
            `overwrite` is set, and even then only those three sub-folders are replaced.
        num_train: Number of training images (>= 0).
        num_val: Number of validation images (>= 0).
        width: Image width in pixels, 64 to 4096.
        height: Image height in pixels, 64 to 4096.
        seed: Non-negative int; the same seed gives byte-identical files.
        overwrite: Write into a non-empty folder that holds no synthetic dataset.
        invert: Write every image colour-inverted (255 - value in every channel; the people, boxes and keypoints are
            those of `invert=False`): another visual domain, in which the left limbs' red-orange hues become the
            cyan-blue of the right limbs of non-inverted images and vice versa.
        progress: Optional callback `progress(split, done, total)` called after each image.

    Returns:
        dict with `root`, `meta_file`, and per split (`train`, `val`): `ann_file`, `img_dir`, `num_images`,
        `num_instances`. Paths are absolute strings.
    """
    if not isinstance(out_dir, (str, os.PathLike)) or not str(out_dir):
        raise ValueError(f'out_dir must be a non-empty path, got {out_dir!r}')
    nums = {'train': _check_int('num_train', num_train, 0, 10**7), 'val': _check_int('num_val', num_val, 0, 10**7)}
    width = _check_int('width', width, _MIN_SIZE, _MAX_SIZE)
    height = _check_int('height', height, _MIN_SIZE, _MAX_SIZE)
    seed = _check_int('seed', seed, 0, 2**63 - 1)
    if not isinstance(overwrite, bool):
        raise ValueError(f'overwrite must be a bool, got {overwrite!r}')
    if not isinstance(invert, bool):
        raise ValueError(f'invert must be a bool, got {invert!r}')
    if progress is not None and not callable(progress):
        raise ValueError(f'progress must be callable or None, got {progress!r}')

    root = Path(out_dir).resolve()
    _prepare(root, overwrite)
    # the generator's name as first released (then vitpose_mm.datasets.synthetic), kept: the files stay identical
    meta = dict(generator='vitpose_mm.datasets.synthetic', version=GENERATOR_VERSION, seed=seed, width=width,
                height=height, num_train=nums['train'], num_val=nums['val'], complete=False)
    if invert:  # only then, so that the default files stay byte-identical to earlier versions
        meta['invert'] = True
    (root / META_FILE).write_text(json.dumps(meta, indent=1) + '\n')
    result: Dict[str, object] = dict(root=str(root), meta_file=str(root / META_FILE))
    for split_index, split in enumerate(SPLITS):
        ann_file, num_instances = _write_split(root, split, split_index, nums[split], width, height, seed,
                                               invert, progress)
        result[split] = dict(ann_file=str(ann_file), img_dir=str(root / split), num_images=nums[split],
                             num_instances=num_instances)
        meta[f'{split}_instances'] = num_instances
    meta['complete'] = True
    (root / META_FILE).write_text(json.dumps(meta, indent=1) + '\n')
    return result
