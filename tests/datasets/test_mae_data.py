"""The MAE pre-training data of the shipped configs: person crops of COCO-format keypoint datasets (mmpose's
datasets and top-down affine transform, several at once) and uncropped images, packed for mmpretrain's MAE."""
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DATASETS, init_default_scope

import vitpose_mm.models.mae  # noqa: F401  (registers the MAE modules, as the configs' custom_imports do)
from conftest import ROOT
from vitpose_mm.synthetic import generate_synthetic_coco
from vitpose_mm.synthetic import relabel_coco_to_aic

MAE = osp.join(ROOT, 'configs', 'mae')


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    """4 images of synthetic people, labelled the COCO way and, in a second file, the AIC way."""
    root = tmp_path_factory.mktemp('mae_data')
    generate_synthetic_coco(root, num_train=4, num_val=0, seed=0)
    coco = json.load(open(root / 'annotations' / 'person_keypoints_train.json'))
    json.dump(relabel_coco_to_aic(coco), open(root / 'annotations' / 'aic_train.json', 'w'))
    return str(root) + '/', coco


def _dataset(config: str, root: str):
    cfg = Config.fromfile(osp.join(MAE, config))
    init_default_scope(cfg.default_scope)
    data = cfg.train_dataloader.dataset
    for sub, ann in zip(data.datasets, ('person_keypoints_train.json', 'aic_train.json')):
        sub.update(data_root=root, ann_file='annotations/' + ann, data_prefix=dict(img='train/'))
    return DATASETS.build(data)


@pytest.mark.parametrize('config,kinds,per_image', [
    ('mae_ViTPose-base_8xb512-1600e_coco-aic-crops-256x192.py', ['CocoDataset', 'AicDataset'], False),
    ('mae_ViTPose-base_8xb512-1600e_coco-aic-images-256x192.py', ['CocoDataset', 'AicDataset'], True),
    ('mae_ViTPose-base_8xb512-1600e_coco-crops-256x192.py', ['CocoDataset'], False),
])
def test_pretraining_samples(synthetic, config, kinds, per_image):
    root, coco = synthetic
    dataset = _dataset(config, root)
    assert [type(d).__name__ for d in dataset.datasets] == kinds
    people = sum(1 for a in coco['annotations'] if a['num_keypoints'] > 0)
    aic_people = len(relabel_coco_to_aic(coco)['annotations'])
    expect = [len(coco['images'])] * len(kinds) if per_image else [people, aic_people][:len(kinds)]
    assert dataset.lens == expect  # one sample per annotated person, or per image
    torch.manual_seed(0)
    sample = dataset[len(dataset) - 1]  # from the last dataset
    assert set(sample) == {'inputs', 'data_samples'}  # no keypoints, nothing of the CombinedDataset
    assert sample['inputs'].shape == (3, 256, 192) and sample['inputs'].dtype == torch.uint8
    assert sample['data_samples'].img_path.startswith(root)
    assert sample['inputs'].float().std() > 10  # an image, not padding


def test_a_crop_is_the_person_box(synthetic):
    """Without augmentation the crop is mmpose's top-down affine of the box (1.25x enlarged, 3:4)."""
    root, coco = synthetic
    cfg = Config.fromfile(osp.join(MAE, 'mae_ViTPose-base_8xb512-1600e_coco-crops-256x192.py'))
    init_default_scope(cfg.default_scope)
    data = cfg.train_dataloader.dataset
    pipeline = [t for t in data.datasets[0].pipeline if t.type not in ('RandomBBoxTransform', 'mmpretrain.RandomFlip')]
    data.datasets[0].update(data_root=root, ann_file='annotations/person_keypoints_train.json',
                            data_prefix=dict(img='train/'), pipeline=pipeline)
    dataset = DATASETS.build(data)
    info = dataset.datasets[0].get_data_info(0)
    x0, y0, x1, y1 = info['bbox'][0]
    import cv2
    import numpy as np
    img = cv2.imread(info['img_path'])
    cx, cy, h = (x0 + x1) / 2, (y0 + y1) / 2, max(y1 - y0, (x1 - x0) * 4 / 3) * 1.25
    crop = cv2.warpAffine(img, np.float32([[256 / h, 0, 96 - cx * 256 / h], [0, 256 / h, 128 - cy * 256 / h]]),
                          (192, 256), flags=cv2.INTER_LINEAR)
    got = dataset[0]['inputs'].permute(1, 2, 0).float().numpy()
    inner = (slice(16, -16), slice(16, -16))  # UDP's half-pixel convention moves the border by a pixel
    assert np.abs(got[inner] - crop[inner]).mean() < 8  # a JPEG, resampled: the same picture
