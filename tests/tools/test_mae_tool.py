"""tools/draw_mae_reconstructions.py and the reconstruction it draws (vitpose_mm.models.mae.reconstruct)."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import vitpose_mm.models.mae  # noqa: F401
from conftest import ROOT, load_tool
from vitpose_mm.checkpoints import grid_record
from vitpose_mm.synthetic import generate_synthetic_coco
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
    assert ((norm - normed_target) ** 2).mean(-1)[mask].mean().item() == pytest.approx(loss.item(), rel=1e-4)


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
    with pytest.raises(SystemExit, match='--num.*got 0'):
        tool.main([DEMO, str(ckpt), str(out), '--num', '0'])
    with pytest.raises(SystemExit, match='missing.pth'):
        tool.main([DEMO, str(tmp_path / 'missing.pth'), str(out)])
    pose = osp.join(ROOT, 'configs', 'demo', 'td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96.py')
    with pytest.raises(SystemExit, match="'BatchFlipTopdownPoseEstimator'"):
        tool.main([pose, str(ckpt), str(out)])
    with pytest.raises(SystemExit) as e:
        tool.main(['--help'])
    assert e.value.code == 0


def test_images_and_tiles_of_the_picture():
    """to_images undoes the normalisation (x * std + mean, rounded, clipped to 0..255) and gives BGR from RGB;
    tile puts one labelled row per list, images side by side with a 2-pixel gap."""
    from vitpose_mm.models.mae.reconstruct import tile, to_images
    mean, std = torch.tensor([100., 50., 0.]), torch.tensor([10., 20., 2.])
    x = torch.zeros(1, 3, 2, 2)
    x[0, :, 0, 0] = torch.tensor([1., -1., 0.24])  # 110, 30, 0.48 -> 0
    x[0, :, 0, 1] = torch.tensor([20., -3., 0.26])  # 300 -> 255, -10 -> 0, 0.52 -> 1
    bgr = to_images(x, mean, std)[0]
    assert bgr.dtype == np.uint8 and bgr.shape == (2, 2, 3) and bgr.flags['C_CONTIGUOUS']
    assert bgr[0, 0].tolist() == [0, 30, 110] and bgr[0, 1].tolist() == [1, 0, 255]
    assert bgr[1, 1].tolist() == [0, 50, 100]
    assert to_images(x, mean, std, rgb=False)[0][0, 0].tolist() == [110, 30, 0]
    a, b = np.full((4, 3, 3), 10, np.uint8), np.full((4, 3, 3), 20, np.uint8)
    out = tile([[a, b], [b, a]], ['first', 'second'])
    assert out.shape == (2 * (4 + 14 + 2), 2 * 3 + 2, 3)
    assert (out[14:18, 0:3] == 10).all() and (out[14:18, 5:8] == 20).all() and (out[14:18, 3:5] == 255).all()
    assert (out[20 + 14:20 + 18, 0:3] == 20).all() and (out[20 + 14:20 + 18, 5:8] == 10).all()
    assert (out[18:20] == 255).all() and (out[:14] < 255).any() and (out[20:34] < 255).any()  # the labels
    assert tile([[a]], ['x'], gap=0).shape == (18, 3, 3)


def test_reconstruction_without_norm_pix_is_the_decoder_prediction():
    """Raw-pixel targets: the reconstruction is the decoder's prediction itself, as an image."""
    from vitpose_mm.models.mae import unpatchify
    model = _model()
    model.head.norm_pix = False
    x = torch.randn(1, 3, 128, 96)
    torch.manual_seed(0)
    out = reconstruct(model, x)
    torch.manual_seed(0)
    with torch.no_grad():
        latent, mask, ids_restore = model.backbone(x)
        pred = model.neck(latent, ids_restore)
    assert torch.equal(out['mask'], mask)
    assert torch.equal(out['reconstruction'], unpatchify(pred, 16, (8, 6)))
