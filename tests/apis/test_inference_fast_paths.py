"""The fast paths from the user's side: ``PoseEstimator(precision=..., compile=...)``, the config's
``model.test_cfg.precision`` and ``tools/test.py --precision/--compile`` (through ``build_test_config`` and
``FastInferenceHook``)."""
import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger

from inference_models import POSE_CONFIG, build_pose_model
from vitpose_mm.apis import PoseEstimator
from vitpose_mm.engine.hooks import FastInferenceHook
from vitpose_mm.engine.launch import build_test_config
from vitpose_mm.utils import find_config

BOXES = [[0, 0, 60, 100, 0.9], [50, 10, 150, 110, 0.8], [10, 5, 40, 60, 0.7]]


@pytest.fixture(scope='module')
def pose_model():
    torch.manual_seed(0)
    return build_pose_model()


def test_estimator_in_bf16_runs_the_crops_as_one_bf16_batch(pose_model):
    img = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    ref = PoseEstimator(pose_model)(img, BOXES)
    model = copy.deepcopy(pose_model)
    seen = []
    model.backbone.register_forward_hook(lambda m, args, out: seen.append((args[0].shape[0], out[0].dtype)))
    people = PoseEstimator(model, precision='bf16')(img, BOXES)
    assert model.fast_inference['precision'] == 'bf16'
    assert seen == [(3, torch.bfloat16)]  # the input was cast: one bf16 batch of the three crops
    assert len(people) == 3 and people[0].keypoints.dtype == np.float32
    # random weights: flat heatmaps, so only the scores (heatmap maxima) are compared
    np.testing.assert_allclose([p.keypoint_scores for p in people], [p.keypoint_scores for p in ref], atol=2e-3)


def test_estimator_takes_the_config_precision_and_refuses_fp16_on_cpu(pose_model):
    model = copy.deepcopy(pose_model)
    model.test_cfg = dict(model.test_cfg, precision='bf16')
    PoseEstimator(model)
    assert model.backbone.pos_embed.dtype == torch.bfloat16
    with pytest.raises(ValueError, match="'fp16'.*cpu"):
        PoseEstimator(copy.deepcopy(pose_model), precision='fp16')
    untouched = copy.deepcopy(pose_model)
    PoseEstimator(untouched)  # fp32 and no compile: the model is left as it is
    assert not hasattr(untouched, 'fast_inference') and untouched.backbone.pos_embed.dtype == torch.float32


def test_test_config_adds_the_hook_only_for_a_fast_path(tmp_path):
    config = find_config(POSE_CONFIG)
    plain = build_test_config(config, 'ckpt.pth', work_dir=str(tmp_path))
    assert not any(h['type'] == 'FastInferenceHook' for h in plain.custom_hooks)
    cfg = build_test_config(config, 'ckpt.pth', work_dir=str(tmp_path), precision='bf16', compile=True)
    assert cfg.model.test_cfg.precision == 'bf16' and cfg.model.test_cfg.compile is True
    assert [h['type'] for h in cfg.custom_hooks].count('FastInferenceHook') == 1
    with pytest.raises(ValueError, match="model.test_cfg.precision.*'half'"):
        build_test_config(config, 'ckpt.pth', work_dir=str(tmp_path), cfg_options={'model.test_cfg.precision': 'half'})


def test_hook_converts_the_loaded_model_before_testing(pose_model):
    model = copy.deepcopy(pose_model)
    model.test_cfg = dict(model.test_cfg, precision='bf16')
    FastInferenceHook().before_test(SimpleNamespace(model=model, logger=MMLogger.get_current_instance()))
    assert model.fast_inference == dict(precision='bf16', compile=False, batch_flip=True)
    assert model.head.final_layer.weight.dtype == torch.bfloat16


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message on a machine without CUDA')
def test_test_tool_refuses_fp16_without_cuda_before_building_anything(tmp_path, monkeypatch):
    from conftest import load_tool
    ckpt = tmp_path / 'ckpt.pth'
    ckpt.write_bytes(b'')  # never read: the tool stops first
    tool = load_tool('test')
    monkeypatch.setattr(tool, 'build_test_config', lambda *a, **k: pytest.fail('the runner was being built'))
    with pytest.raises(SystemExit, match='--precision fp16.*CUDA'):
        tool.main([POSE_CONFIG, str(ckpt), '--precision', 'fp16'])


def test_estimator_compile_argument_wins_over_the_config(pose_model):
    """PoseEstimator(compile=...) overrides model.test_cfg.compile both ways, and its value reaches the model."""
    model = copy.deepcopy(pose_model)
    PoseEstimator(model, compile='aot_eager')  # the config says nothing: the argument turns compiling on
    assert model.fast_inference == dict(precision='fp32', compile='aot_eager', batch_flip=True)
    off = copy.deepcopy(pose_model)
    off.test_cfg = dict(off.test_cfg, compile=True)
    PoseEstimator(off, compile=False)  # the argument turns the config's compiling off
    assert not hasattr(off, 'fast_inference')
