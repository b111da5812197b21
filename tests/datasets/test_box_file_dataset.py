"""Evaluation with a box file (``bbox_file``) on an animal dataset: the AP-10K configs keep every species (mmpose 1.3.2
keeps category 1 only) and log what they keep and drop. The real AP-10K samples, with a detection file of two
species made by hand."""
import json
import logging
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS

import vitpose_mm  # noqa: F401  (registers the modules)
from conftest import ROOT

AP10K_CONFIG = osp.join(ROOT, 'configs', 'ap10k', 'td-hm_ViTPose-base_8xb64-210e_ap10k-256x192.py')
APT36K_CONFIG = osp.join(ROOT, 'configs', 'apt36k', 'td-hm_ViTPose-base_8xb64-210e_apt36k-256x192.py')
PLUS_CONFIG = osp.join(ROOT, 'configs', 'vitpose_plus', 'td-hm_ViTPose-plus-base_8xb128-210e_6datasets-256x192.py')


def _dets(samples_dir, tmp_path):
    """The two AP-10K sample images: a species-26 animal (with a low-score and a zero-height duplicate), an antelope
    (category 1) and a species-54 box."""
    dets = [dict(image_id=37516, category_id=26, bbox=[66, 192, 1092, 512], score=0.9),
            dict(image_id=37516, category_id=26, bbox=[66, 192, 500, 300], score=0.2),
            dict(image_id=37516, category_id=26, bbox=[66, 192, 500, 0], score=0.8),
            dict(image_id=4, category_id=1, bbox=[408, 197, 429, 341], score=0.95),
            dict(image_id=4, category_id=54, bbox=[10, 10, 100, 100], score=0.6)]
    path = tmp_path / 'dets.json'
    path.write_text(json.dumps(dets))
    return str(path)


def _build(samples_dir, tmp_path, dataset_type, **kwargs):
    init_default_scope('mmpose')
    ds = DATASETS.build(dict(type=dataset_type, data_root=osp.join(samples_dir, 'ap10k'), ann_file='test_ap10k.json',
                             data_prefix=dict(img=''), bbox_file=_dets(samples_dir, tmp_path), test_mode=True,
                             pipeline=[], **kwargs))
    ds.full_init()
    return ds


def _image_ids(ds):
    return sorted(ds.get_data_info(i)['img_id'] for i in range(len(ds)))


def test_mmpose_keeps_only_category_1(samples_dir, tmp_path):
    """mmpose 1.3.2's behaviour, which the package's dataset fixes: only the antelope survives."""
    assert _image_ids(_build(samples_dir, tmp_path, 'AP10KDataset')) == [4]


def test_every_species_kept_and_the_drops_counted(samples_dir, tmp_path):
    records = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        ds = _build(samples_dir, tmp_path, 'BoxFileAP10KDataset', bbox_cat_ids=None,
                    filter_cfg=dict(bbox_score_thr=0.3))
    finally:
        logger.removeHandler(handler)
    assert _image_ids(ds) == [4, 4, 37516]  # every species: 1 and 54 on image 4, 26 on image 37516
    assert ds.box_counts.describe() == 'kept 3 of 5 boxes: 1 below score 0.3, 1 degenerate'
    assert any('kept 3 of 5 boxes: 1 below score 0.3, 1 degenerate' in r.getMessage() and 'every category' in
               r.getMessage() for r in records)
    two = _build(samples_dir, tmp_path, 'BoxFileAP10KDataset', bbox_cat_ids=[1, 26])
    assert _image_ids(two) == [4, 37516, 37516]
    assert two.box_counts.describe() == 'kept 3 of 5 boxes: 1 of other categories, 1 degenerate'
    person = _build(samples_dir, tmp_path, 'BoxFileCocoDataset')  # the person default, as mmpose
    assert person.bbox_cat_ids == {1}


@pytest.mark.parametrize('path', [AP10K_CONFIG, APT36K_CONFIG])
def test_animal_configs_keep_every_species(path):
    cfg = Config.fromfile(path)
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        assert loader.dataset.type == 'BoxFileAP10KDataset' and loader.dataset.bbox_cat_ids is None
    assert cfg.train_dataloader.dataset.type == 'AP10KDataset'  # training reads annotations, not box files


def test_vitpose_plus_animal_val_sets_keep_every_species():
    cfg = Config.fromfile(PLUS_CONFIG)
    animals = [d for d in cfg.val_dataloader.dataset.datasets if 'ap10k' in d.ann_file or 'apt36k' in d.data_root]
    assert len(animals) == 2
    assert all(d.type == 'BoxFileAP10KDataset' and d.bbox_cat_ids is None for d in animals)


def test_person_records_load_as_mmpose_loads_them(samples_dir):
    """On COCO's own detection file the package's loader gives mmpose 1.3.2's data, record for record."""
    import numpy as np
    init_default_scope('mmpose')
    common = dict(data_root=osp.join(samples_dir, 'coco'), ann_file='test_coco.json', data_prefix=dict(img=''),
                  bbox_file=osp.join(samples_dir, 'coco', 'test_coco_det_AP_H_56.json'), test_mode=True, pipeline=[])
    ours, theirs = (DATASETS.build(dict(type=t, **common)) for t in ('BoxFileCocoDataset', 'CocoDataset'))
    assert len(ours) == len(theirs) > 0
    for i in range(len(ours)):
        a, b = ours.get_data_info(i), theirs.get_data_info(i)
        assert set(a) == set(b)
        for key in a:
            if isinstance(a[key], np.ndarray):
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)
            else:
                assert a[key] == b[key], key
