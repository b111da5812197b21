# References: ViTAE-Transformer/ViTPose configs vitPose+_*_coco+aic+mpii+ap10k+apt36k+wholebody_256x192_udp.py and
# tools/model_split.py (expert order, keypoint counts); mmpose 1.3.2 dataset classes, metainfo files and metrics.
"""The pose datasets of ViTPose / ViTPose+, one row each: what the configs, the multi-dataset estimator and the
checkpoint tools need to know about them.

Every dataset is read by mmpose's own dataset class with mmpose's own metainfo file (keypoint names, skeleton, flip
pairs, OKS sigmas). APT-36K is distributed in AP-10K's format and read by ``AP10KDataset``; its metainfo is AP-10K's
with the ``dataset_name`` ``apt36k`` (``configs/_base_/datasets/apt36k.py``), so that its samples and metrics are told
apart from AP-10K's. CrowdPose and OCHuman are not ViTPose+ training sets (no expert): OCHuman is evaluated with the
COCO head and expert (same 17 keypoints), CrowdPose is trained on its own.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from vitpose_mm.utils import configs_dir


@dataclass(frozen=True)
class PoseDatasetFacts:
    """One pose dataset as ViTPose+ and mmpose 1.3.2 see it.

    Attributes:
        name: the short name used by ViTPose+ tools (``--dataset``) and this package's config folders.
        dataset_name: the ``dataset_name`` of its metainfo, which every sample carries (``PackPoseInputs``) and
            :class:`MultiDatasetTopdownPoseEstimator` and the evaluator route by.
        expert: its ViTPose+ expert index (``dataset_source``), None when ViTPose+ has no expert for it.
        num_keypoints: keypoints per instance.
        dataset_type: mmpose dataset class.
        metainfo: metainfo file, relative to the package of ``metainfo_from`` (mmpose's are found by
            ``parse_pose_metainfo``; :func:`metainfo_file` gives the absolute path of either).
        metric: the mmpose metric of its published numbers, and the metric's arguments other than files.
        eval_with: the dataset whose head and expert evaluate it, when it has none of its own.
    """
    name: str
    dataset_name: str
    expert: Optional[int]
    num_keypoints: int
    dataset_type: str
    metainfo: str
    metric: str
    metric_args: Tuple[Tuple[str, object], ...] = ()
    eval_with: Optional[str] = None
    metainfo_from: str = 'mmpose'


def _metainfo(name: str) -> str:
    return f'configs/_base_/datasets/{name}.py'


POSE_DATASETS: Dict[str, PoseDatasetFacts] = {f.name: f for f in (
    PoseDatasetFacts('coco', 'coco', 0, 17, 'CocoDataset', _metainfo('coco'), 'CocoMetric'),
    PoseDatasetFacts('aic', 'aic', 1, 14, 'AicDataset', _metainfo('aic'), 'CocoMetric', (('use_area', False), )),
    PoseDatasetFacts('mpii', 'mpii', 2, 16, 'MpiiDataset', _metainfo('mpii'), 'MpiiPCKAccuracy'),
    PoseDatasetFacts('ap10k', 'ap10k', 3, 17, 'AP10KDataset', _metainfo('ap10k'), 'CocoMetric'),
    # APT-36K: AP-10K's format and keypoints; the metainfo file of this package renames it (module docstring).
    PoseDatasetFacts('apt36k', 'apt36k', 4, 17, 'AP10KDataset', _metainfo('apt36k'), 'CocoMetric',
                     metainfo_from='vitpose_mm'),
    PoseDatasetFacts('wholebody', 'coco_wholebody', 5, 133, 'CocoWholeBodyDataset', _metainfo('coco_wholebody'),
                     'CocoWholeBodyMetric'),
    PoseDatasetFacts('crowdpose', 'crowdpose', None, 14, 'CrowdPoseDataset', _metainfo('crowdpose'), 'CocoMetric',
                     (('iou_type', 'keypoints_crowd'), ('use_area', False))),
    PoseDatasetFacts('ochuman', 'ochuman', None, 17, 'OCHumanDataset', _metainfo('ochuman'), 'CocoMetric',
                     eval_with='coco'),
)}

# ViTPose+ dataset order: expert index and head (0 = `keypoint_head`, k > 0 = `associate_keypoint_heads.{k-1}`),
# with each dataset's number of keypoints (official configs and tools/model_split.py).
DATASETS: Dict[str, Tuple[int, int]] = {
    f.name: (f.expert, f.num_keypoints) for f in POSE_DATASETS.values() if f.expert is not None}
assert [index for index, _ in DATASETS.values()] == list(range(len(DATASETS))), 'ViTPose+ rows out of expert order'


# mmpose dataset_names of animal pose datasets (its configs/_base_/datasets/*.py), and this package's apt36k.
ANIMAL_DATASET_NAMES = frozenset({'ap10k', 'apt36k', 'animalpose', 'animalkingdom', 'horse10', 'macaque', 'zebra',
                                  'locust', 'fly', 'desert_locust'})


def instance_noun(dataset_name: Optional[str]) -> str:
    """What one instance of a dataset is, for messages: ``'animals'`` for the animal datasets, ``'people'`` for this
    table's others, ``'instances'`` for a dataset this package does not know."""
    if dataset_name in ANIMAL_DATASET_NAMES:
        return 'animals'
    if any(f.dataset_name == dataset_name for f in POSE_DATASETS.values()):
        return 'people'
    return 'instances'


def dataset_facts(name: str) -> PoseDatasetFacts:
    """The row of ``name`` (short name such as ``wholebody``, or metainfo ``dataset_name`` such as
    ``coco_wholebody``); ``KeyError`` naming the known datasets otherwise."""
    if name in POSE_DATASETS:
        return POSE_DATASETS[name]
    for facts in POSE_DATASETS.values():
        if facts.dataset_name == name:
            return facts
    raise KeyError(f'unknown pose dataset {name!r}; known: {sorted(POSE_DATASETS)}')


def metainfo_file(name: str) -> str:
    """Absolute path of the metainfo file of dataset ``name`` (see :func:`dataset_facts`)."""
    facts = dataset_facts(name)
    if facts.metainfo_from == 'vitpose_mm':
        return osp.join(configs_dir(), osp.relpath(facts.metainfo, 'configs'))
    import mmpose
    return osp.join(osp.dirname(mmpose.__file__), '.mim', facts.metainfo)


__all__ = ['PoseDatasetFacts', 'POSE_DATASETS', 'DATASETS', 'dataset_facts', 'metainfo_file']
