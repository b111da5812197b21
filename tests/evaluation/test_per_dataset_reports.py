"""Multi-dataset evaluation that always reports (PerDatasetEvaluator): a dataset without annotations, images or
predictions is named in a warning and skipped, the others are reported; ``--out`` dumps every dataset's predictions
keyed by dataset. On the shared real samples of seven datasets, the ground truth as prediction (AP 1 everywhere)."""
import json
import os.path as osp
import pickle

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import RUNNERS, init_default_scope
from mmengine.runner import Runner

from conftest import ROOT
from vitpose_mm.engine.launch import build_test_config

CONFIG = osp.join(ROOT, 'configs', 'vitpose_plus', 'td-hm_ViTPose-plus-micro_1xb16-1e_pose-samples-128x96.py')
METRICS = {'coco': 'coco/AP', 'aic': 'aic/AP', 'mpii': 'mpii/PCK', 'ap10k': 'ap10k/AP', 'crowdpose': 'crowdpose/AP',
           'coco_wholebody': 'coco_wholebody/AP', 'ochuman': 'ochuman/AP'}
AP10K = 3  # its index in the config's val_sets and metrics


@pytest.fixture
def cfg(samples_dir, tmp_path, monkeypatch):
    # mmengine formats the whole config with yapf, minutes for seven datasets (see test_multi_dataset_samples.py)
    monkeypatch.setattr(Config, 'pretty_text', property(lambda self: repr(self.to_dict())))
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = str(tmp_path)
    return cfg


def _ap10k_file(samples_dir, tmp_path, images=True, annotations=True):
    data = json.load(open(osp.join(samples_dir, 'ap10k', 'test_ap10k.json')))
    data['images'] = data['images'] if images else []
    data['annotations'] = data['annotations'] if annotations else []
    path = tmp_path / 'ap10k.json'
    path.write_text(json.dumps(data))
    return str(path)


def _use_ap10k_file(cfg, path):
    cfg.val_dataloader.dataset.datasets[AP10K].ann_file = path
    cfg.val_evaluator.metrics[AP10K].ann_file = path


def _evaluate(cfg, evaluator_cfg=None, drop=()):
    """The ground truth of every sample as its prediction, through the evaluator (samples of ``drop`` withheld)."""
    init_default_scope('mmpose')
    loader = Runner.build_dataloader(cfg.val_dataloader)
    evaluator = Runner.build_evaluator(None, evaluator_cfg or cfg.val_evaluator)  # what the runner does
    evaluator.dataset_meta = loader.dataset.metainfo
    seen = {}
    for data in loader:
        keep = [i for i, s in enumerate(data['data_samples']) if s.dataset_name not in drop]
        data = dict(inputs=[data['inputs'][i] for i in keep], data_samples=[data['data_samples'][i] for i in keep])
        for s in data['data_samples']:
            seen[s.dataset_name] = seen.get(s.dataset_name, 0) + 1
            pred = s.gt_instances.clone()
            pred.keypoint_scores = np.ones(pred.keypoints.shape[:2], dtype=np.float32)
            s.pred_instances = pred
        evaluator.process(data['data_samples'], data)
    return evaluator.evaluate(len(loader.dataset)), seen


def _assert_reported_but(metrics, skipped):
    for name, key in METRICS.items():
        if name == skipped:
            assert not any(k.startswith(name + '/') for k in metrics), sorted(metrics)
        else:
            assert metrics[key] == pytest.approx(1.0), (key, metrics.get(key))


@pytest.mark.parametrize('images, annotations, why', [(True, False, 'no annotations'), (False, False, 'no images')])
def test_dataset_without_annotations_or_images_is_named_and_skipped(cfg, samples_dir, tmp_path, mmlogger_warnings,
                                                                     images, annotations, why):
    _use_ap10k_file(cfg, _ap10k_file(samples_dir, tmp_path, images, annotations))
    metrics, seen = _evaluate(cfg)
    assert 'ap10k' not in seen
    _assert_reported_but(metrics, 'ap10k')
    assert any("'ap10k' skipped" in m and why in m for m in mmlogger_warnings), mmlogger_warnings


def test_dataset_without_predictions_is_named_and_skipped(cfg, mmlogger_warnings):
    metrics, seen = _evaluate(cfg, drop=('mpii', ))
    _assert_reported_but(metrics, 'mpii')
    assert any("'mpii' skipped" in m and 'no predictions' in m for m in mmlogger_warnings), mmlogger_warnings
    assert any('reported 6 of 7 datasets' in m for m in mmlogger_warnings)


def test_out_dumps_every_datasets_predictions_keyed_by_dataset(cfg, tmp_path):
    out = str(tmp_path / 'preds.pkl')
    test_cfg = build_test_config(CONFIG, 'ckpt.pth', out=out, work_dir=str(tmp_path))
    metrics, seen = _evaluate(cfg, test_cfg.test_evaluator)  # mmengine's KeyError on DumpResults beside it is gone
    assert test_cfg.test_evaluator.type == 'PerDatasetEvaluator' and test_cfg.test_evaluator.out_file_path == out
    _assert_reported_but(metrics, None)
    with open(out, 'rb') as f:
        dumped = pickle.load(f)
    assert {n: len(p) for n, p in dumped.items()} == seen and len(seen) == 7
    first = dumped['ap10k'][0]
    assert first['dataset_name'] == 'ap10k' and first['pred_instances']['keypoints'].shape[-2:] == (17, 2)
    with pytest.raises(ValueError, match='preds.json'):
        build_test_config(CONFIG, 'ckpt.pth', out=str(tmp_path / 'preds.json'))


@pytest.mark.slow
def test_validation_in_the_runner_skips_the_empty_dataset(cfg, samples_dir, tmp_path):
    """The runner's validation loop (training's) with a ViTPose+ model: the same skip, the other six reported."""
    import logging
    _use_ap10k_file(cfg, _ap10k_file(samples_dir, tmp_path, annotations=False))
    runner = RUNNERS.build(cfg)
    warnings = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())
    runner.logger.addHandler(handler)  # the runner's own logger, the current one while it validates
    try:
        metrics = runner.val()
    finally:
        runner.logger.removeHandler(handler)
    assert all(METRICS[n] in metrics for n in METRICS if n != 'ap10k') and 'ap10k/AP' not in metrics
    assert any("'ap10k' skipped" in m for m in warnings), warnings


@pytest.mark.slow
def test_test_tool_out_on_a_vitpose_plus_config(cfg, tmp_path):
    """``tools/test.py CONFIG CKPT --out preds.pkl`` end to end (random weights): metrics and one pickle keyed by
    dataset."""
    import torch
    from mmpose.registry import MODELS

    from conftest import load_tool
    init_default_scope('mmpose')
    torch.save({'state_dict': MODELS.build(cfg.model).state_dict(), 'meta': {}}, str(tmp_path / 'ckpt.pth'))
    load_tool('test').main([CONFIG, str(tmp_path / 'ckpt.pth'), '--out', str(tmp_path / 'preds.pkl'),
                            '--work-dir', str(tmp_path / 'w')])
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        dumped = pickle.load(f)
    assert set(dumped) == set(METRICS) and all(len(p) > 0 for p in dumped.values())
    metrics = json.load(open(tmp_path / 'w' / 'metrics.json'))
    assert all(METRICS[n] in metrics for n in METRICS)
