"""Mixed-precision training without CUDA: ``AutocastOptimWrapper`` (bfloat16 autocast) learns, and
``tools/train.py --amp`` picks it on a machine without CUDA (mmengine's ``AmpOptimWrapper`` refuses to start there)."""
import pytest
import torch
from mmengine.config import Config

from vitpose_mm.engine.launch import set_amp
from vitpose_mm.engine.optim_wrappers import AutocastOptimWrapper

from tiny_train import DEMO_CFG, overfit_tiny_model


@pytest.mark.slow  # trains a model; bf16 is emulated on CPUs without native bf16
def test_bf16_autocast_training_lowers_the_loss(tmp_path):
    model, _, losses = overfit_tiny_model(tmp_path / 'synthetic', steps=20, amp_dtype='bfloat16')
    assert model.backbone.pos_embed.dtype == torch.float32  # fp32 master weights, bf16 compute
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last * 2 < first, losses


def test_autocast_wrapper_runs_the_forward_in_bf16():
    layer = torch.nn.Linear(4, 4)
    wrapper = AutocastOptimWrapper(optimizer=torch.optim.SGD(layer.parameters(), lr=0.1))
    with wrapper.optim_context(layer):
        assert layer(torch.randn(2, 4)).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="'bfloat16'.*'float16'.*AmpOptimWrapper"):
        AutocastOptimWrapper(dtype='float16', optimizer=torch.optim.SGD(layer.parameters(), lr=0.1))


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the choice made on a machine without CUDA')
def test_amp_flag_without_cuda_is_bf16_autocast():
    cfg = Config.fromfile(DEMO_CFG)
    set_amp(cfg)
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper' and cfg.optim_wrapper.dtype == 'bfloat16'
    cfg.optim_wrapper.update(type='OptimWrapper', dtype='float16')
    with pytest.raises(ValueError, match='--amp.*float16.*CUDA'):
        set_amp(cfg)
