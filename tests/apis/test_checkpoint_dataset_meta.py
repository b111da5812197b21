"""PoseEstimator with an AP-10K checkpoint (as tools/export_dataset.py writes it) in a COCO config: the checkpoint's
animal dataset_meta wins (keypoint names, skeleton, and the flip test's pairs), with a warning naming both datasets."""
import numpy as np
import pytest
from mmpose.datasets.datasets.utils import parse_pose_metainfo

from inference_models import POSE_CONFIG, build_pose_model
from random_weights import randomize_
from vitpose_mm.apis import PoseEstimator
from vitpose_mm.checkpoints.multi_dataset import save_exported
from vitpose_mm.datasets import metainfo_file


@pytest.mark.slow  # about 4 s of CPU
def test_ap10k_export_draws_and_flips_as_an_animal(tmp_path, mmlogger_warnings):
    ap10k = parse_pose_metainfo(dict(from_file=metainfo_file('ap10k')))
    path = str(tmp_path / 'ap10k.pth')
    save_exported(path, randomize_(build_pose_model(), seed=4).state_dict(), ap10k, dict(dataset='ap10k'))
    estimator = PoseEstimator.from_config(POSE_CONFIG, path)  # a COCO config
    assert any("'ap10k'" in line and "'coco'" in line for line in mmlogger_warnings), mmlogger_warnings
    meta = estimator.dataset_meta
    assert meta['dataset_name'] == 'ap10k' and meta['flip_indices'] == ap10k['flip_indices']
    names = meta['keypoint_id2name']
    assert [names[i] for i in range(5)] == ['L_Eye', 'R_Eye', 'Nose', 'Neck', 'Root of tail']
    links = {frozenset((names[a], names[b])) for a, b in meta['skeleton_links']}
    assert frozenset(('Neck', 'Root of tail')) in links
    # the flip test flips with AP-10K's pairs: COCO's pairs give other keypoints
    estimator.pose_model.test_cfg['flip_test'] = True
    img = np.random.default_rng(0).integers(0, 255, (160, 120, 3), dtype=np.uint8)
    box = np.array([[10., 8., 106., 136.]])
    animal = estimator(img, box)[0].keypoints
    estimator.pose_model.dataset_meta = parse_pose_metainfo(dict(from_file=metainfo_file('coco')))
    person = estimator(img, box)[0].keypoints
    estimator.pose_model.dataset_meta = meta
    assert np.abs(estimator(img, box)[0].keypoints - animal).max() == 0
    assert np.abs(person - animal).max() > 1.0
