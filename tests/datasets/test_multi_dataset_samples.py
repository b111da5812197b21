"""ViTPose+ through mmengine's runner on the real samples of seven datasets: one validation, each dataset's metric."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS, init_default_scope
from mmengine.runner import Runner
from mmpose.registry import EVALUATORS

from conftest import ROOT

CONFIG = osp.join(ROOT, 'configs', 'vitpose_plus', 'td-hm_ViTPose-plus-micro_1xb16-1e_pose-samples-128x96.py')
METRICS = ('coco/AP', 'aic/AP', 'mpii/PCK', 'ap10k/AP', 'crowdpose/AP', 'coco_wholebody/AP', 'ochuman/AP')


@pytest.fixture
def cfg(samples_dir, tmp_path, monkeypatch):
    # mmengine's runner formats the whole config with yapf (log, dump, message hub): for seven datasets, each with
    # its own pipeline, that alone takes minutes on a 2-core CPU. These tests are about the data and the metrics.
    monkeypatch.setattr(Config, 'pretty_text', property(lambda self: repr(self.to_dict())))
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(tmp_path)
    return cfg


@pytest.mark.slow
def test_runner_trains_and_validates_every_dataset(cfg):
    for d in cfg.train_dataloader.dataset.datasets:
        d.indices = 2  # two people of each of the six training sets: one mixed batch
    cfg.train_cfg.val_interval = 10  # validate once, below
    runner = RUNNERS.build(cfg)
    runner.train()
    assert runner.iter == 1
    logged = runner.message_hub.log_scalars
    assert all(f'train/{d}.loss_kpt' in logged for d in ('coco', 'aic', 'mpii', 'ap10k', 'crowdpose', 'coco_wholebody'))
    metrics = runner.val()
    assert all(k in metrics for k in METRICS), sorted(metrics)
    assert all(0 <= metrics[k] <= 1 for k in METRICS)


def test_ground_truth_as_prediction_scores_one_per_dataset(cfg):
    """Each prediction reaches its own dataset's metric: the ground truth itself scores AP 1 and PCK 1 everywhere
    (a prediction filed under another dataset would miss its annotation file or keypoint count)."""
    init_default_scope('mmpose')
    loader = Runner.build_dataloader(cfg.val_dataloader)
    evaluator = EVALUATORS.build(cfg.val_evaluator)
    evaluator.dataset_meta = loader.dataset.metainfo
    seen = set()
    for data in loader:
        for s in data['data_samples']:
            seen.add(s.dataset_name)
            pred = s.gt_instances.clone()
            pred.keypoint_scores = np.ones(pred.keypoints.shape[:2], dtype=np.float32)
            s.pred_instances = pred
        evaluator.process(data['data_samples'], data)
    assert seen == {'coco', 'aic', 'mpii', 'ap10k', 'crowdpose', 'coco_wholebody', 'ochuman'}
    metrics = evaluator.evaluate(len(loader.dataset))
    for key in METRICS:
        assert metrics[key] == pytest.approx(1.0), (key, metrics[key])


def test_the_index_travels_through_combined_dataset(cfg):
    """Every training sample of the CombinedDataset keeps its own dataset's name, keypoint count and flip indices."""
    init_default_scope('mmpose')
    loader = Runner.build_dataloader(cfg.train_dataloader)
    counts = dict(coco=17, aic=14, mpii=16, ap10k=17, crowdpose=14, coco_wholebody=133)
    got = {}
    for data in loader:
        for s in data['data_samples']:
            got[s.dataset_name] = (s.gt_fields.heatmaps.shape[0], len(s.flip_indices))
    assert got == {k: (v, v) for k, v in counts.items()}


def test_evaluator_refuses_ambiguous_or_unknown_datasets():
    init_default_scope('mmpose')
    with pytest.raises(ValueError, match="dataset_name.*'ap10k'"):
        EVALUATORS.build(dict(type='PerDatasetEvaluator', datasets=[dict(type='AP10KDataset')] * 2,
                              metrics=[dict(type='CocoMetric'), dict(type='CocoMetric')]))
    with pytest.raises(ValueError, match="prefixes.*'x'"):
        EVALUATORS.build(dict(type='PerDatasetEvaluator', datasets=[dict(type='CocoDataset'), dict(type='AicDataset')],
                              metrics=[dict(type='CocoMetric', prefix='x'), dict(type='CocoMetric', prefix='x')]))
    with pytest.raises(ValueError, match='2 metrics.*1 datasets'):
        EVALUATORS.build(dict(type='PerDatasetEvaluator', datasets=[dict(type='CocoDataset')],
                              metrics=[dict(type='CocoMetric'), dict(type='CocoMetric')]))
    evaluator = EVALUATORS.build(dict(type='PerDatasetEvaluator', datasets=[dict(type='CocoDataset')],
                                      metrics=[dict(type='CocoMetric')]))
    from mmpose.structures import PoseDataSample
    with pytest.raises(KeyError, match="'aic'.*\\['coco'\\]"):
        evaluator.process([PoseDataSample(metainfo=dict(dataset_name='aic'))],
                          dict(inputs=[torch.zeros(1)], data_samples=[None]))
