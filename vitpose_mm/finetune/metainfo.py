# References: COCO keypoint format (cocodataset.org/#format-data: categories[].keypoints, skeleton 1-based, keypoints
# as x, y, v triples) and OKS (cocodataset.org/#keypoints-eval); mmpose 1.3.2 dataset_info files and
# parse_pose_metainfo (mmpose/datasets/datasets/utils.py).
"""mmpose dataset metainfo (``dataset_info``) from a COCO-format keypoint annotation file.

:func:`read_keypoint_annotations` reads and checks the file (every bad input is a :class:`FinetuneError` naming the
file, the record and the fix); :func:`build_dataset_info` makes mmpose's ``dataset_info``: keypoint names, ids,
colours, upper/lower body, swap partners (flip pairs), skeleton, joint weights and OKS sigmas;
:func:`write_dataset_info` writes it as a config file that ``metainfo=dict(from_file=...)`` reads.

Sigmas and joint weights come from a known dataset (COCO first, then CrowdPose, AP-10K, COCO-WholeBody, AI
Challenger; mmpose's metainfo files) for every keypoint whose name matches one of its names (matched in the normal
form of :func:`vitpose_mm.finetune.names.normal_name`); the others get :data:`DEFAULT_SIGMA` and weight 1, with a
warning: OKS-based AP depends on the sigmas.
"""
import json
import os.path as osp
import pprint
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.logging import MMLogger

from vitpose_mm.checkpoints.io import atomic_path

from .errors import FinetuneError
from .names import infer_flip_pairs, normal_name, parse_flip_pairs, side

# COCO's shoulder sigma (0.079), also CrowdPose's for its head-top and neck keypoints (mmpose crowdpose.py)
DEFAULT_SIGMA = 0.079
KNOWN_DATASETS = ('coco', 'crowdpose', 'ap10k', 'wholebody', 'aic')
# mmpose's COCO colours: left green, right orange, centre blue
COLORS = dict(left=[0, 255, 0], right=[255, 128, 0], centre=[51, 153, 255])
_LOWER_WORDS = {'hip', 'knee', 'ankle', 'foot', 'feet', 'heel', 'toe', 'toes', 'leg', 'thigh', 'shin', 'calf',
                'pelvis', 'tail', 'hock', 'paw'}


@dataclass
class KeypointAnnotations:
    """What a COCO keypoint file says about its keypoints (see :func:`read_keypoint_annotations`)."""
    path: str
    names: List[str]
    skeleton: List[Tuple[str, str]]
    category: str
    num_images: int
    num_instances: int  # annotations of the keypoint category with at least one labelled keypoint
    has_area: bool  # every annotation has ``area`` (else OKS uses the box: CocoMetric(use_area=False))
    per_keypoint_labelled: List[int] = field(default_factory=list)


def _fail(path, problem, fix, record=None):
    return FinetuneError(path, problem, fix, record)


def read_keypoint_annotations(path: str, img_dir: Optional[str] = None) -> KeypointAnnotations:
    """Read and check a COCO-format keypoint annotation file.

    Args:
        path: the ``.json`` file.
        img_dir: when given, every image the file names must exist under it.

    Raises:
        FinetuneError: unreadable file; no category with ``keypoints`` (not a keypoint file) or several; empty or
            duplicate keypoint names; a skeleton link outside ``1..K``; an annotation whose ``keypoints`` is not
            ``3 x K`` numbers; no annotation with a labelled keypoint; images named but missing.
    """
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise _fail(path, 'annotation file not found', 'give the path of a COCO-format keypoint .json file')
    except (OSError, ValueError) as e:
        raise _fail(path, f'not readable as JSON ({e})', 'give a COCO-format keypoint .json file')
    if not isinstance(data, dict):
        raise _fail(path, 'not a COCO annotation file (the top level is not an object)',
                    'give a COCO-format file with images, annotations and categories')
    cats = [c for c in data.get('categories') or [] if isinstance(c, dict) and c.get('keypoints')]
    if not cats:
        raise _fail(path, 'not a COCO keypoint file: no categories[].keypoints',
                    'add "keypoints": [names...] (and "skeleton") to the category, as in COCO person_keypoints files',
                    record='categories')
    if len(cats) > 1:
        raise _fail(path, f'{len(cats)} categories with keypoints ({[c.get("name") for c in cats]})',
                    'keep one keypoint category per file (mmpose reads one)', record='categories')
    cat = cats[0]
    names = list(cat['keypoints'])
    seen: Dict[str, int] = {}
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name.strip():
            raise _fail(path, f'keypoint {i} has an empty name ({name!r})', 'give every keypoint a name',
                        record=f'categories[{cat.get("id")}].keypoints[{i}]')
        if name in seen:
            raise _fail(path, f'keypoint name {name!r} appears twice (positions {seen[name]} and {i})',
                        'give every keypoint its own name', record=f'categories[{cat.get("id")}].keypoints[{i}]')
        seen[name] = i
    k = len(names)
    skeleton = []
    for j, link in enumerate(cat.get('skeleton') or []):
        if not (isinstance(link, (list, tuple)) and len(link) == 2 and all(isinstance(v, int) and 1 <= v <= k
                                                                             for v in link)):
            raise _fail(path, f'skeleton link {link!r} is not two keypoint numbers in 1..{k} (COCO numbers them '
                        'from 1)', 'fix or remove the link', record=f'categories[{cat.get("id")}].skeleton[{j}]')
        skeleton.append((names[link[0] - 1], names[link[1] - 1]))
    labelled = [0] * k
    instances, has_area = 0, True
    for ann in data.get('annotations') or []:
        if ann.get('category_id', cat.get('id')) != cat.get('id'):
            continue
        record = f'annotation {ann.get("id")} (image {ann.get("image_id")})'
        kpts = ann.get('keypoints')
        if not isinstance(kpts, list) or len(kpts) != 3 * k:
            got = len(kpts) if isinstance(kpts, list) else type(kpts).__name__
            raise _fail(path, f'keypoints has {got} numbers, expected 3 x {k} = {3 * k} (x, y, v for each of the '
                        f'category\'s {k} keypoints)', 'give every annotation all keypoints (v=0 for unlabelled ones) '
                        'or fix the category\'s keypoint list', record=record)
        vis = kpts[2::3]
        if any(v > 0 for v in vis):
            instances += 1
            for i, v in enumerate(vis):
                labelled[i] += v > 0
        has_area = has_area and 'area' in ann
    if not instances:
        raise _fail(path, 'no annotation has a labelled keypoint (every v is 0)',
                    'label keypoints with v=1 (occluded) or v=2 (visible)', record='annotations')
    images = data.get('images') or []
    if img_dir is not None:
        missing = [img.get('file_name') for img in images if not osp.isfile(osp.join(img_dir, str(img.get('file_name'))))]
        if missing:
            raise _fail(path, f'{len(missing)} of {len(images)} images not found under {img_dir} (first: '
                        f'{missing[:3]})', 'give the image folder the file_name entries are relative to',
                        record=f'images[file_name={missing[0]!r}]')
    return KeypointAnnotations(osp.abspath(path), names, skeleton, str(cat.get('name', 'object')), len(images),
                               instances, has_area, labelled)


_KNOWN: Optional[Dict[str, Tuple[str, float, float, str]]] = None


def known_keypoints() -> Dict[str, Tuple[str, float, float, str]]:
    """``{normal name: (dataset, sigma, joint weight, 'upper'|'lower')}`` of :data:`KNOWN_DATASETS` (the first
    dataset that has a name gives its values)."""
    global _KNOWN
    if _KNOWN is None:
        from mmengine.config import Config

        from vitpose_mm.datasets.facts import metainfo_file
        table: Dict[str, Tuple[str, float, float, str]] = {}
        for name in KNOWN_DATASETS:
            info = Config.fromfile(metainfo_file(name)).dataset_info
            for i, kpt in sorted(info['keypoint_info'].items()):
                table.setdefault(normal_name(kpt['name']), (name, float(info['sigmas'][i]),
                                                             float(info['joint_weights'][i]), kpt.get('type', 'upper')))
        _KNOWN = table
    return _KNOWN


def resolve_flip_pairs(ann: KeypointAnnotations, given: Optional[Sequence[str]] = None,
                       no_flip: bool = False) -> List[Tuple[str, str]]:
    """The flip pairs: ``given`` (``['a:b', ...]``), else read off the names (:func:`infer_flip_pairs`).

    Raises:
        FinetuneError: a bad ``given`` item; a name that says a side whose partner is missing (unless ``no_flip``:
            then that keypoint is unpaired and flipping is off for the whole model).
    """
    if given:
        try:
            return parse_flip_pairs(given, ann.names)
        except ValueError as e:
            raise _fail(ann.path, str(e), 'give pairs of the category\'s keypoint names', record='--flip-pairs')
    pairs, unpaired = infer_flip_pairs(ann.names)
    if unpaired and not no_flip:
        name, partner = next(iter(unpaired.items()))
        raise _fail(ann.path, f'keypoint {name!r} says a side but its partner {partner!r} is not a keypoint '
                    f'(unpaired: {sorted(unpaired)})', 'give the pairs yourself with --flip-pairs a:b ... (keypoints '
                    'left out are taken as centre points), or --no-flip (no flip augmentation, no flip test)',
                    record=f'keypoint {name!r}')
    if unpaired:
        MMLogger.get_current_instance().warning(f'no partner for {sorted(unpaired)}: unpaired (flipping is off)')
    return pairs


def build_dataset_info(ann: KeypointAnnotations, flip_pairs: Sequence[Tuple[str, str]],
                       dataset_name: str = 'custom') -> Tuple[dict, List[str]]:
    """mmpose's ``dataset_info`` for the keypoints of ``ann``: ``(dataset_info, notes)``.

    ``notes`` say where each sigma came from (one line per source), for the log and the written file.
    """
    known = known_keypoints()
    swap = {}
    for a, b in flip_pairs:
        swap[a], swap[b] = b, a
    keypoint_info, sigmas, weights, sources = {}, [], [], {}
    for i, name in enumerate(ann.names):
        hit = known.get(normal_name(name))
        s = side(name) if name in swap else None
        kind = hit[3] if hit else ('lower' if _LOWER_WORDS & set(normal_name(name).split('_')) else 'upper')
        keypoint_info[i] = dict(name=name, id=i, color=COLORS[s or 'centre'], type=kind, swap=swap.get(name, ''))
        sigmas.append(hit[1] if hit else DEFAULT_SIGMA)
        weights.append(hit[2] if hit else 1.0)
        sources.setdefault(hit[0] if hit else None, []).append(name)
    skeleton_info = {}
    for j, (a, b) in enumerate(ann.skeleton):
        sa, sb = side(a) if a in swap else None, side(b) if b in swap else None
        colour = COLORS[sa if sa == sb and sa else 'centre']
        skeleton_info[j] = dict(link=(a, b), id=j, color=colour)
    notes = [f'OKS sigmas and joint weights of {d} for {names}' for d, names in sources.items() if d]
    if None in sources:
        notes.append(f'no known dataset names {sources[None]}: OKS sigma {DEFAULT_SIGMA} (COCO\'s shoulder) and '
                     'joint weight 1 for them; OKS-based AP depends on the sigmas: edit them in the metainfo file '
                     'if you know better values')
    info = dict(dataset_name=dataset_name, paper_info=dict(author='', title=f'{ann.category} keypoints from '
                                                           f'{osp.basename(ann.path)}', container='', year='',
                                                           homepage=''),
                keypoint_info=keypoint_info, skeleton_info=skeleton_info, joint_weights=weights, sigmas=sigmas)
    return info, notes


def write_dataset_info(info: dict, path: str, notes: Sequence[str] = ()) -> None:
    """Write ``dataset_info = {...}`` to ``path`` (a config file mmpose reads with ``metainfo=dict(from_file=)``);
    atomically: no half-written file."""
    header = ['# mmpose dataset metainfo written by tools/finetune.py from the annotation file.']
    header += [f'# {n}' for n in notes]
    text = '\n'.join(header) + '\ndataset_info = ' + pprint.pformat(info, width=110, sort_dicts=False) + '\n'
    write_text(path, text)


def write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` all at once (:func:`vitpose_mm.checkpoints.io.atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, 'w') as f:
        f.write(text)


__all__ = ['KeypointAnnotations', 'read_keypoint_annotations', 'resolve_flip_pairs', 'build_dataset_info',
           'write_dataset_info', 'known_keypoints', 'DEFAULT_SIGMA', 'KNOWN_DATASETS']
