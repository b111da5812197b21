"""tools/draw_mae_reconstructions.py and the reconstruction it draws (vitpose_mm.models.mae.reconstruct)."""
import os.path as osp

import cv2
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import vitpose_mm.models.mae  # noqa: F401
from conftest import ROOT, load_tool
from vitpose_mm.checkpoints import grid_record
from vitpose_mm.datasets import generate_synthetic_coco
from vitpose_mm.models.mae import patchify
from vitpose_mm.models.mae.reconstruct import reconstruct

DEMO = osp.join(ROOT, 'configs', 'mae', 'demo', 'mae_ViTPose-micro_1xb64-30e_synthetic-crops-128x96.py')


def _model():
    init_default_scope('mmpretrain')
    model = MODELS.build(Config.fromfile(DEMO).model)
    model.init_weights()
    return model.eval()


def test_reconstruction_keeps_the_visible_patches():
    model = _model()
    x = torch.randn(2, 3, 128, 96)
    torch.manual_seed(0)
    out = reconstruct(model, x)
    torch.manual_seed(0)
    loss = model.loss(x, None)['loss']  # the same masks: the reconstruction is what the loss scores
    mask = out['mask'].bool()
    assert mask.sum(1).tolist() == [36, 36]
    pasted, rec, masked = (patchify(out[k], 16) for k in ('pasted', 'reconstruction', 'masked'))
    target = patchify(x, 16)
    assert torch.equal(pasted[~mask], target[~mask]) and torch.equal(pasted[mask], rec[mask])
    assert not masked[mask].any() and torch.equal(masked[~mask], target[~mask])
    # undo the per-patch normalisation: the head's loss on the normalised prediction is the same number
    norm = (rec - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6) ** .5
    normed_target = model.head.construct_target(x)
    assert float(((norm - normed_target) ** 2).mean(-1)[mask].mean()) == pytest.approx(float(loss), rel=1e-4)


def test_tool_draws_a_picture(tmp_path):
    data = tmp_path / 'synthetic'
    generate_synthetic_coco(data, num_train=2, num_val=0, seed=0)
    model = _model()
    ckpt = tmp_path / 'mae.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(vitpose_mm=grid_record(model))), ckpt)
    out = tmp_path / 'rec.png'
    tool = load_tool('draw_mae_reconstructions')
    tool.main([DEMO, str(ckpt), str(out), '--num', '2', '--cfg-options',
               f'train_dataloader.dataset.data_root={data}/'])
    img = cv2.imread(str(out))
    assert img.shape == (4 * (128 + 14 + 2), 2 * (96 + 2) - 2, 3)
    with pytest.raises(SystemExit, match='--num must be >= 1'):
        tool.main([DEMO, str(ckpt), str(out), '--num', '0'])
    with pytest.raises(SystemExit, match='not found'):
        tool.main([DEMO, str(tmp_path / 'missing.pth'), str(out)])
    pose = osp.join(ROOT, 'configs', 'demo', 'td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96.py')
    with pytest.raises(SystemExit, match="not an MAE pre-training config .*'TopdownPoseEstimator'"):
        tool.main([pose, str(ckpt), str(out)])
    with pytest.raises(SystemExit) as e:
        tool.main(['--help'])
    assert e.value.code == 0
