"""NaN and infinite numbers in a dataset's boxes, keypoints, areas and scores: each instance skipped by
``CheckedDataset``, counted under its field, and in ``DataQualityHook``'s metrics record. Hand-made COCO files."""
import json
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS

from vitpose_mm.engine.hooks.data_quality_hook import DataQualityHook

NAN, INF = float('nan'), float('inf')
K = 17
PIPELINE = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
            dict(type='TopdownAffine', input_size=(48, 64)), dict(type='PackPoseInputs')]


def _keypoints():
    return [v for k in range(K) for v in (10.0 + k, 12.0 + k, 2)]


def _ann(i, **change):
    return {'id': i, 'image_id': 1, 'category_id': 1, 'iscrowd': 0, 'bbox': [8.0, 6.0, 30.0, 40.0],
            'area': 1200.0, 'num_keypoints': K, 'keypoints': _keypoints(), **change}


def _root(tmp_path, anns):
    (tmp_path / 'img').mkdir()
    cv2.imwrite(str(tmp_path / 'img' / '000001.png'), np.full((64, 64, 3), 127, np.uint8))
    coco = {'images': [{'id': 1, 'file_name': '000001.png', 'width': 64, 'height': 64}], 'annotations': anns,
            'categories': [{'id': 1, 'name': 'person'}]}
    (tmp_path / 'ann.json').write_text(json.dumps(coco))  # NaN and Infinity as JSON literals, as Python writes them
    return tmp_path


def _checked(root, test_mode=False, **kwargs):
    init_default_scope('mmpose')
    ds = DATASETS.build(dict(type='CheckedDataset', dataset=dict(
        type='CocoDataset', data_root=str(root), data_mode='topdown', ann_file='ann.json', data_prefix=dict(img='img/'),
        test_mode=test_mode, pipeline=PIPELINE, **kwargs)))
    ds.full_init()
    return ds


def _bad_keypoint(value):
    kpts = _keypoints()
    kpts[3 * 5] = value  # x of the left shoulder
    return kpts


def test_each_non_finite_training_field_is_counted_and_skipped(tmp_path):
    root = _root(tmp_path, [_ann(1), _ann(2, bbox=[NAN, 6.0, 30.0, 40.0]), _ann(3, bbox=[8.0, 6.0, INF, 40.0]),
                            _ann(4, keypoints=_bad_keypoint(NAN)), _ann(5, keypoints=_bad_keypoint(-INF)),
                            _ann(6, area=INF)])
    ds = _checked(root)
    assert ds.skipped == {'non-finite box': 2, 'non-finite keypoint': 2, 'non-finite area': 1}
    assert len(ds) == 1 and ds.get_data_info(0)['id'] == 1
    item = ds[0]  # the one left trains: a real crop
    assert np.isfinite(item['data_samples'].gt_instances.bboxes).all()


def test_non_finite_detection_boxes_and_scores_are_counted_in_evaluation(tmp_path):
    root = _root(tmp_path, [_ann(1)])
    dets = [{'image_id': 1, 'category_id': 1, 'bbox': [8.0, 6.0, 30.0, 40.0], 'score': 0.9},
            {'image_id': 1, 'category_id': 1, 'bbox': [8.0, 6.0, 30.0, 40.0], 'score': NAN},
            {'image_id': 1, 'category_id': 1, 'bbox': [8.0, NAN, 30.0, 40.0], 'score': 0.8},
            {'image_id': 1, 'category_id': 1, 'bbox': [8.0, 6.0, 30.0, 40.0], 'score': INF}]
    (root / 'dets.json').write_text(json.dumps(dets))
    ds = _checked(root, test_mode=True, bbox_file=str(root / 'dets.json'))
    assert ds.skipped == {'non-finite box': 1, 'non-finite score': 2}
    assert len(ds) == 1 and float(ds.get_data_info(0)['bbox_score'][0]) == pytest.approx(0.9)


def test_data_quality_hook_reports_the_non_finite_counts(tmp_path):
    root = _root(tmp_path, [_ann(1), _ann(2, bbox=[NAN, 6.0, 30.0, 40.0]), _ann(3, area=NAN)])
    ds = _checked(root)
    runner = SimpleNamespace(val_dataloader=SimpleNamespace(dataset=SimpleNamespace(skipped={})),
                             train_dataloader=SimpleNamespace(dataset=ds), _train_dataloader=object())
    metrics = {'coco/AP': 0.5}
    DataQualityHook().after_val_epoch(runner, metrics)
    assert metrics == {'coco/AP': 0.5, 'data/train_skipped/non-finite box': 1,
                       'data/train_skipped/non-finite area': 1}
