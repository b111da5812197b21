"""Offline COCO evaluation with detected person boxes (`bbox_file`), as the published COCO val numbers are measured:
tools/test.py (what `mim test` runs) on the 4 sample images and their AP_H_56 detections, with a random tiny model."""
import json
import os.path as osp

import pytest
import torch
from mmengine.fileio import load

from conftest import load_tool
from inference_models import POSE_CONFIG, save_pose_checkpoint


@pytest.mark.slow
def test_test_loop_evaluates_every_detected_box_above_the_score_threshold(samples_dir, tmp_path):
    coco = osp.join(samples_dir, 'coco')
    dets = json.load(open(osp.join(coco, 'test_coco_det_AP_H_56.json')))
    expected = sum(d['category_id'] == 1 and d['score'] >= 0.5 for d in dets)
    assert expected == 18  # of 118 person detections
    torch.manual_seed(0)
    ckpt = save_pose_checkpoint(str(tmp_path / 'pose.pth'))
    load_tool('test').main([
        POSE_CONFIG, ckpt, '--work-dir', str(tmp_path / 'work'), '--out', str(tmp_path / 'preds.pkl'),
        '--cfg-options',
        f'test_dataloader.dataset.data_root={coco}/',
        'test_dataloader.dataset.ann_file=test_coco.json',
        'test_dataloader.dataset.data_prefix.img=',
        f'test_dataloader.dataset.bbox_file={coco}/test_coco_det_AP_H_56.json',
        'test_dataloader.dataset.filter_cfg.bbox_score_thr=0.5',
        f'test_evaluator.ann_file={coco}/test_coco.json',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False', 'test_dataloader.batch_size=8',
    ])
    preds = load(str(tmp_path / 'preds.pkl'))
    assert len(preds) == expected  # one pose per detected box: the boxes came from the file, not the annotations
    assert {p['img_id'] for p in preds} == {785, 40083, 196141, 197388}
    assert sorted(float(p['gt_instances']['bbox_scores'][0]) for p in preds)[0] >= 0.5
    metrics = json.load(open(tmp_path / 'work' / 'metrics.json'))
    assert {'coco/AP', 'coco/AP .5', 'coco/AP .75', 'coco/AP (M)', 'coco/AP (L)', 'coco/AR'} <= set(metrics)
    assert all(0 <= v <= 1 for v in metrics.values())
