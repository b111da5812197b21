"""The logic behind tools/*.py, called from the package (the tools are argparse plus one of these calls):
config merging of train/test, the converter's key summary, the demo's input checks, the student extraction."""
import re
from pathlib import Path

import pytest
import torch

from conftest import ROOT
from vitpose_mm.apis import DemoError, DemoOptions, run_demo
from vitpose_mm.apis.demo_runner import summary_line
from vitpose_mm.checkpoints.convert_file import summarize_dropped, summarize_keys
from vitpose_mm.checkpoints.student import TOKEN_KEY, extract_student, write_student
from vitpose_mm.engine.launch import build_test_config, build_train_config

ROOT_CONFIGS = Path(ROOT) / 'configs'
DEMO = 'td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96'  # a shipped config name, looked up in configs/


def test_train_config_merges_options_and_switches():
    cfg = build_train_config(DEMO, {'train_cfg.max_epochs': 3, 'load_from': 'old.pth'}, resume='auto', amp=True,
                             no_validate=True)  # resume='auto': the work dir's latest checkpoint, not load_from
    assert cfg.work_dir == f'./work_dirs/{DEMO}' and cfg.launcher == 'none' and cfg.train_cfg.max_epochs == 3
    assert cfg.resume is True and cfg.load_from is None
    if torch.cuda.is_available():
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.loss_scale == 'dynamic'
    else:  # mmengine's AmpOptimWrapper needs CUDA: bf16 autocast (tests/engine/test_amp_training.py)
        assert cfg.optim_wrapper.type == 'AutocastOptimWrapper' and 'loss_scale' not in cfg.optim_wrapper
    assert cfg.val_cfg is None and cfg.val_dataloader is None and cfg.val_evaluator is None
    cfg = build_train_config(DEMO + '.py', work_dir='w', launcher='pytorch', resume='x.pth')
    assert (cfg.work_dir, cfg.launcher, cfg.resume, cfg.load_from) == ('w', 'pytorch', True, 'x.pth')
    assert cfg.optim_wrapper.get('type') != 'AmpOptimWrapper' and cfg.val_dataloader is not None
    with pytest.raises(FileNotFoundError, match='nope'):
        build_train_config('nope')


def test_test_config_loads_through_the_runner_and_dumps_predictions():
    cfg = build_test_config(DEMO, 'c.pth', out='p.pkl', show_dir='vis', kpt_thr=0.5, src_grid=(16, 12),
                            verbose=True)
    assert cfg.load_from == 'c.pth' and cfg.runner_type == 'ViTPoseRunner'
    assert cfg.checkpoint_loading == dict(src_grid=(16, 12), verbose=True)
    evaluators = cfg.test_evaluator
    assert isinstance(evaluators, list) and evaluators[-1] == dict(type='DumpResults', out_file_path='p.pkl')
    vis = cfg.default_hooks.visualization
    assert vis.enable is True and vis.out_dir == 'vis' and vis.kpt_thr == 0.5
    with pytest.raises(ValueError, match='--out.*p.txt'):
        build_test_config(DEMO, 'c.pth', out='p.txt')


def test_summarize_keys_groups_blocks_and_experts():
    keys = [f'backbone.blocks.{i}.mlp.experts.3.{p}' for i in range(4) for p in ('weight', 'bias')]
    assert summarize_keys(keys) == 'backbone.blocks.N.mlp.experts.3.*'
    assert summarize_keys(['head.final_layer.weight']) == 'head.final_layer.weight'
    many = [f'associate_keypoint_heads.{k}.final_layer.weight' for k in range(5)]
    assert summarize_keys(many) == 'associate_keypoint_heads.*'
    lines = []
    summarize_dropped({**{k: 'other experts' for k in keys}, 'cls_token': 'unused'}, False, lines.append)
    assert lines == ['dropped 9 keys:', '     8 x backbone.blocks.N.mlp.experts.3.*: other experts',
                     '     1 x cls_token: unused']


def test_summarize_dropped_logs_to_the_current_mmlogger_by_default():
    """Without ``log``, the summary goes to the current MMLogger (the run's log file), at info level."""
    import logging

    from mmengine.logging import MMLogger
    records = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        summarize_dropped({'cls_token': 'unused'}, True)
        summarize_dropped({}, False)
    finally:
        logger.removeHandler(handler)
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.INFO, 'dropped 1 keys:'), (logging.INFO, '  cls_token: unused'), (logging.INFO, 'dropped: nothing')]


def test_run_demo_names_bad_input_before_building_a_model(tmp_path):
    with pytest.raises(DemoError, match='nothing.jpg'):
        run_demo(str(tmp_path / 'nothing.jpg'), DEMO, 'p.pth')
    (tmp_path / 'v.mp4').write_bytes(b'')
    with pytest.raises(DemoError, match='--bbox-file'):
        run_demo(str(tmp_path / 'v.mp4'), DEMO, 'p.pth', bbox_file='b.json')
    with pytest.raises(DemoError, match='missing.pth'):
        run_demo(str(tmp_path), DEMO, str(tmp_path / 'missing.pth'), options=DemoOptions(out_dir=str(tmp_path)))
    summary = dict(images=3, skipped=['a.jpg'], people=5, dropped_boxes=1, seconds=1.26, outputs=['o/vis', 'o/p.json'])
    assert summary_line(summary) == ('3 images (1 unreadable, skipped), 5 people, 1 degenerate boxes dropped, '
                                     '1.3 s -> o/vis, o/p.json')


def test_write_student_projects_the_token_and_keeps_the_meta(tmp_path):
    torch.manual_seed(0)
    sd = {'module.backbone.pos_embed': torch.randn(1, 5, 4), 'module.head.final_layer.weight': torch.randn(3, 4),
          'module.knowledge_token': torch.randn(1, 1, 6), 'module.token_proj.weight': torch.randn(4, 6),
          'module.teacher.x': torch.zeros(1)}
    torch.save({'state_dict': sd, 'meta': {'epoch': 7, 'hook_msgs': {}}}, tmp_path / 'run.pth')
    student, dropped = write_student(str(tmp_path / 'run.pth'), str(tmp_path / 'out' / 's.pth'))
    assert dropped == ['knowledge_token', 'teacher.x', 'token_proj.weight']
    expected = sd['module.knowledge_token'][0] @ sd['module.token_proj.weight'].t()  # (1, 6) @ (6, 4)
    torch.testing.assert_close(student[TOKEN_KEY][0], expected)
    saved = torch.load(tmp_path / 'out' / 's.pth', weights_only=False)
    assert sorted(saved['state_dict']) == ['backbone.extra_tokens', 'backbone.pos_embed', 'head.final_layer.weight']
    assert saved['meta']['epoch'] == 7 and 'hook_msgs' not in saved['meta']
    assert saved['meta']['extracted_from'] == str(tmp_path / 'run.pth')
    with pytest.raises(ValueError, match='token_proj.weight.*knowledge_token'):
        extract_student({k: v for k, v in sd.items() if 'knowledge' not in k})
    for partial in ({'backbone.pos_embed': sd['module.backbone.pos_embed']},
                    {'head.final_layer.weight': sd['module.head.final_layer.weight']}):
        with pytest.raises(ValueError, match=r'backbone\.\*.*head\.\*'):
            extract_student(partial)
    # with a config, the student must load into its model first: these toy tensors do not, nothing is written
    with pytest.raises(ValueError, match='td-hm_ViTPose-small_8xb64-210e_coco-256x192'):
        write_student(str(tmp_path / 'run.pth'), str(tmp_path / 'checked.pth'),
                      'td-hm_ViTPose-small_8xb64-210e_coco-256x192')
    assert not (tmp_path / 'checked.pth').exists()



def test_write_student_keeps_a_half_precision_token_and_writes_into_an_existing_folder(tmp_path):
    """A float16 distillation checkpoint gives a float16 student token (the product is computed in float32 and cast
    back to the checkpoint's dtype); the output folder may exist already; a file without a state dict is named."""
    torch.manual_seed(1)
    sd = {'backbone.pos_embed': torch.randn(1, 5, 4).half(), 'head.final_layer.weight': torch.randn(3, 4).half(),
          'knowledge_token': torch.randn(1, 2, 6).half(), 'token_proj.weight': torch.randn(4, 6).half()}
    torch.save({'state_dict': sd}, tmp_path / 'run.pth')
    student, _ = write_student(str(tmp_path / 'run.pth'), str(tmp_path / 's.pth'))  # tmp_path exists
    assert student[TOKEN_KEY].dtype == torch.float16 and student[TOKEN_KEY].shape == (1, 2, 4)
    expected = sd['knowledge_token'].float() @ sd['token_proj.weight'].float().t()
    torch.testing.assert_close(student[TOKEN_KEY].float(), expected, rtol=1e-3, atol=1e-3)
    assert torch.load(tmp_path / 's.pth', weights_only=False)['state_dict'][TOKEN_KEY].dtype == torch.float16
    torch.save({'meta': {'epoch': 1}}, tmp_path / 'empty.pth')
    with pytest.raises(ValueError, match=re.escape(str(tmp_path / 'empty.pth'))):
        write_student(str(tmp_path / 'empty.pth'), str(tmp_path / 'e.pth'))
    assert not (tmp_path / 'e.pth').exists()

def test_draw_predictions_tiles_images_and_names_bad_input(tmp_path):
    import cv2
    import numpy as np
    from mmengine.fileio import dump

    from vitpose_mm.apis.visualization import draw_predictions
    metainfo = str(ROOT_CONFIGS / '_base_' / 'datasets' / 'coco.py')
    records = []
    for i, (h, w) in enumerate([(40, 30), (50, 20), (30, 30), (20, 60)]):
        cv2.imwrite(str(tmp_path / f'{i}.png'), np.zeros((h, w, 3), np.uint8))
        for _ in range(2 if i == 0 else 1):  # top-down: a record per person (box)
            records.append(dict(img_path=str(tmp_path / f'{i}.png'), pred_instances=dict(
                keypoints=np.full((1, 17, 2), 10.0), keypoint_scores=np.ones((1, 17)))))
    dump(records, str(tmp_path / 'pred.pkl'))
    assert draw_predictions(str(tmp_path / 'pred.pkl'), str(tmp_path / 'out.png'), num=4, metainfo=metainfo) == (5, 4)
    canvas = cv2.imread(str(tmp_path / 'out.png'))
    assert canvas.shape == (2 * 50, 3 * 60, 3)  # 3 tiles a row, each cell as large as the largest image
    assert (canvas[40:50, 0:30] == 255).all() and (canvas[50:70, 0:60] != 255).any()  # white padding, 4th image
    with pytest.raises(FileNotFoundError, match='nope.pkl'):
        draw_predictions(str(tmp_path / 'nope.pkl'), str(tmp_path / 'o.png'))
    dump([1, 2], str(tmp_path / 'ints.pkl'))
    with pytest.raises(ValueError, match='ints.pkl'):
        draw_predictions(str(tmp_path / 'ints.pkl'), str(tmp_path / 'o.png'))
