"""tools/convert_config.py: official ViTPose 0.x configs -> mmpose 1.x configs of this package.

Fixtures (tests/fixtures/official_configs/) are written for these tests with the layout of the official COCO and
ViTPose+ multi-dataset configs. The converted COCO config must build the same model as the shipped
configs/coco/td-hm_ViTPose-base_8xb64-210e_coco-256x192.py and carry the same recipe."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from conftest import ROOT, load_tool
from mmpose.registry import MODELS
from vitpose_mm.config_convert import BaseRef, convert_official_config, read_official_config

FIXTURES = osp.join(ROOT, 'tests', 'fixtures', 'official_configs')
COCO = osp.join(FIXTURES, 'coco_base_classic.py')
PLUS = osp.join(FIXTURES, 'multi_dataset_plus_small.py')
SHIPPED_B = osp.join(ROOT, 'configs', 'coco', 'td-hm_ViTPose-base_8xb64-210e_coco-256x192.py')


def _tool():
    return load_tool('convert_config')


def _convert(src: str, tmp_path, capsys) -> tuple:
    dst = str(tmp_path / 'converted.py')
    _tool().main([src, dst])
    return Config.fromfile(dst), capsys.readouterr().out, open(dst).read()


def test_reader_evaluates_without_running_the_file():
    ns = read_official_config(COCO)
    assert ns['model']['keypoint_head']['out_channels'] == 17  # channel_cfg['num_output_channels']
    assert ns['data']['train']['ann_file'] == 'data/coco/annotations/person_keypoints_train2017.json'  # f-string
    assert ns['data']['train']['dataset_info'] == BaseRef('dataset_info')
    assert ns['channel_cfg']['inference_channel'] == list(range(17))


def test_coco_config_converts_to_the_shipped_model_and_recipe(tmp_path, capsys):
    cfg, stdout, text = _convert(COCO, tmp_path, capsys)
    shipped = Config.fromfile(SHIPPED_B)
    shipped.model.backbone.pop('init_cfg')  # the shipped config starts from MAE weights, the official file from none
    init_default_scope('mmpose')
    with torch.device('meta'):  # shapes only: no 86M random inits
        ours, theirs = MODELS.build(cfg.model), MODELS.build(shipped.model)
    assert repr(ours) == repr(theirs)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}
    assert cfg.model.head.decoder == shipped.codec and cfg.model.test_cfg == shipped.model.test_cfg
    assert cfg.model.data_preprocessor == shipped.model.data_preprocessor
    # optimizer and schedule
    assert cfg.optim_wrapper == shipped.optim_wrapper
    assert cfg.param_scheduler == [dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
                                   dict(type='MultiStepLR', begin=0, end=210, by_epoch=True, milestones=[170, 200],
                                        gamma=0.1)]
    assert cfg.train_cfg == dict(by_epoch=True, max_epochs=210, val_interval=10)
    # data: batch sizes, the pipelines as the shipped ones (but for the half-body threshold, written out)
    assert cfg.train_dataloader.batch_size == 64 and cfg.val_dataloader.batch_size == 32
    assert [t['type'] for t in cfg.train_dataloader.dataset.pipeline] == [
        t['type'] for t in shipped.train_dataloader.dataset.pipeline]
    assert cfg.train_dataloader.dataset.pipeline[4] == dict(type='RandomBBoxTransform', shift_prob=0.,
                                                            scale_factor=(0.5, 1.5), rotate_factor=40.,
                                                            rotate_prob=0.6)
    assert [t['type'] for t in cfg.val_dataloader.dataset.pipeline] == [
        t['type'] for t in shipped.val_dataloader.dataset.pipeline]
    assert cfg.val_dataloader.dataset.bbox_file.endswith('COCO_val2017_detections_AP_H_56_person.json')
    assert 'bbox_file' not in cfg.train_dataloader.dataset
    assert cfg.val_evaluator == dict(type='CocoMetric', ann_file='data/coco/annotations/person_keypoints_val2017.json',
                                     nms_mode='oks_nms', nms_thr=0.9, keypoint_score_thr=0.2)
    assert cfg.data_mode == 'topdown' and cfg.dataset_type == 'CocoDataset'
    assert cfg.default_hooks.checkpoint.save_best == 'coco/AP'
    # what was dropped is reported, with reasons, on stdout and on top of the file
    for item in ('optimizer.paramwise_cfg.custom_keys', 'model.test_cfg.modulate_kernel', '_base_',
                 'data.train.data_cfg.nms_thr'):
        assert item in stdout and f'#   - {item}' in text
    assert 'decay_multi' in stdout


def test_vitpose_plus_config_keeps_the_experts_and_reports_the_other_datasets(tmp_path, capsys):
    cfg, stdout, _ = _convert(PLUS, tmp_path, capsys)
    backbone = cfg.model.backbone
    assert backbone.type == 'ViT' and backbone.num_expert == 6 and backbone.part_features == 96
    assert cfg.model.head.out_channels == 17 and cfg.optim_wrapper.optimizer.lr == 1e-3
    assert cfg.optim_wrapper.paramwise_cfg == dict(num_layers=12, layer_decay_rate=0.8)
    assert cfg.train_dataloader.batch_size == 128 and cfg.train_dataloader.dataset.type == 'CocoDataset'
    for item in ('model.associate_keypoint_head[0] (14 keypoints)', 'model.associate_keypoint_head[1] (16 keypoints)',
                 'data.train[1] (TopDownAicDataset', 'data.train[2] (TopDownMpiiDataset',
                 'data.train.data_cfg.dataset_idx'):
        assert item in stdout
    init_default_scope('mmpose')
    with torch.device('meta'):
        model = MODELS.build(cfg.model)  # ViT-S with 6 experts: builds
    assert len(model.backbone.blocks[0].mlp.experts) == 6


@pytest.mark.parametrize('edit, match', [
    (("type='TopDown',", "type='BottomUp',"), r"model.type='BottomUp'.*\['TopDown', 'TopDownMoE'\]"),
    (("policy='step'", "policy='poly'"), r"lr_config.policy='poly'.*\['step', 'CosineAnnealing'\]"),
    (("target_type = 'GaussianHeatmap'", "target_type = 'CombinedTarget'"), 'target_type'),
    (("total_epochs = 210", "total_epochs = 210\nimport_ok = __import__('os')"), 'Call'),
    (("total_epochs = 210", "total_epochs = 210\nfor i in range(3): pass"), r'official.py:\d+'),
])
def test_bad_configs_are_clear_errors(edit, match, tmp_path):
    src = tmp_path / 'official.py'
    text = open(COCO).read()
    assert edit[0] in text
    src.write_text(text.replace(edit[0], edit[1]))
    with pytest.raises(ValueError, match=match):
        convert_official_config(read_official_config(str(src)))


def test_tool_help_and_refusals(tmp_path, capsys):
    tool = _tool()
    with pytest.raises(SystemExit) as info:
        tool.main(['--help'])
    assert info.value.code == 0 and 'official ViTPose' in capsys.readouterr().out
    existing = tmp_path / 'exists.py'
    existing.write_text('')
    with pytest.raises(SystemExit, match='exists.py'):
        tool.main([COCO, str(existing)])
    with pytest.raises(SystemExit, match='nope.py'):
        tool.main([str(tmp_path / 'nope.py'), str(tmp_path / 'x.py')])
