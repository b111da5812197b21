"""Backbone initialisation from MAE pre-training weights (MAE/timm and mmpretrain layouts) and bad files."""
import os
import pickle

import pytest
import torch

from vitpose_mm.models.backbones.pos_embed import resize_pos_embed
from vitpose_mm.models.backbones.vit import ViT

DIMS = dict(patch_size=16, embed_dim=32, depth=2, num_heads=4, qkv_bias=True)


def target(path):
    return ViT(img_size=(64, 48), init_cfg=dict(type='Pretrained', checkpoint=str(path)), **DIMS)


def mae_timm_state_dict():
    """A 224x224 MAE encoder in MAE/timm names: cls token, 197-row pos_embed, final `norm`, decoder keys."""
    sd = ViT(img_size=224, **DIMS).state_dict()
    sd['norm.weight'], sd['norm.bias'] = sd.pop('last_norm.weight') + 1, sd.pop('last_norm.bias') + 1
    sd['cls_token'] = torch.randn(1, 1, 32)
    sd['mask_token'] = torch.randn(1, 1, 16)
    sd['decoder_embed.weight'] = torch.randn(16, 32)
    return sd


def test_mae_timm_layout(tmp_path):
    src = mae_timm_state_dict()
    assert src['pos_embed'].shape == (1, 197, 32)
    torch.save({'model': src}, tmp_path / 'mae.pth')
    model = target(tmp_path / 'mae.pth')
    fresh_norm = model.last_norm.weight.detach().clone()
    model.init_weights()
    for k in ('blocks.1.attn.qkv.weight', 'blocks.0.mlp.fc2.bias', 'patch_embed.proj.weight'):
        torch.testing.assert_close(model.state_dict()[k], src[k])
    torch.testing.assert_close(model.pos_embed.data, resize_pos_embed(src['pos_embed'], (14, 14), (4, 3)))
    # MAE's final norm is not ViTPose's last_norm (the official code leaves last_norm at its init too)
    torch.testing.assert_close(model.last_norm.weight.data, fresh_norm)


def test_pretrained_backbone_is_initialised_once_in_its_model(tmp_path):
    """After its ``Pretrained`` init the backbone reports ``is_init`` (mmengine's contract): the model around it
    does not initialise it again (the file is not read twice; here it is gone by then)."""
    from mmengine.model import BaseModule
    torch.save({'model': mae_timm_state_dict()}, tmp_path / 'mae.pth')
    backbone = target(tmp_path / 'mae.pth')
    backbone.init_weights()
    assert backbone.is_init
    loaded = {k: v.clone() for k, v in backbone.state_dict().items()}
    os.remove(tmp_path / 'mae.pth')

    class Model(BaseModule):
        def __init__(self):
            super().__init__()
            self.backbone = backbone

    Model().init_weights()
    assert all(torch.equal(v, loaded[k]) for k, v in backbone.state_dict().items())


def test_mmpretrain_layout_matches_mmpretrain_layers(tmp_path):
    from mmpretrain.models import VisionTransformer
    ref = VisionTransformer(
        arch=dict(embed_dims=32, num_layers=2, num_heads=4, feedforward_channels=128), img_size=224,
        patch_size=16, qkv_bias=True, with_cls_token=True, out_type='cls_token')
    ref.init_weights()
    ref.eval()
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in ref.state_dict().items()}},
               tmp_path / 'mmpretrain_mae.pth')
    model = target(tmp_path / 'mmpretrain_mae.pth').eval()
    model.init_weights()
    torch.testing.assert_close(model.patch_embed.proj.weight, ref.patch_embed.projection.weight)
    torch.testing.assert_close(model.pos_embed.data, resize_pos_embed(ref.pos_embed.data, (14, 14), (4, 3)))
    tokens = torch.randn(2, 12, 32)
    with torch.no_grad():
        for i in range(2):
            torch.testing.assert_close(model.blocks[i](tokens), ref.layers[i](tokens), atol=1e-5, rtol=1e-5)


def test_depth_mismatch_is_named(tmp_path):
    src = ViT(img_size=224, **{**DIMS, 'depth': 3}).state_dict()
    torch.save(src, tmp_path / 'deeper.pth')
    with pytest.raises(KeyError, match='blocks.2'):
        target(tmp_path / 'deeper.pth').init_weights()


def test_width_mismatch_is_named(tmp_path):
    src = ViT(img_size=224, **{**DIMS, 'embed_dim': 64}).state_dict()
    torch.save(src, tmp_path / 'wider.pth')
    model = target(tmp_path / 'wider.pth')
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r'\b64\b.*\b32\b'):
        model.init_weights()
    for k, v in model.state_dict().items():  # nothing half-loaded
        assert torch.equal(v, before[k]), k


def test_not_a_vit_checkpoint(tmp_path):
    torch.save({'state_dict': {'conv1.weight': torch.zeros(64, 3, 7, 7), 'bn1.weight': torch.zeros(64)}},
               tmp_path / 'resnet.pth')
    with pytest.raises(ValueError, match="'bn1.weight', 'conv1.weight'"):
        target(tmp_path / 'resnet.pth').init_weights()


def test_missing_and_truncated_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        target(tmp_path / 'nope.pth').init_weights()
    torch.save({'model': mae_timm_state_dict()}, tmp_path / 'full.pth')
    data = (tmp_path / 'full.pth').read_bytes()
    (tmp_path / 'cut.pth').write_bytes(data[:len(data) // 2])
    with pytest.raises(RuntimeError, match='cut.pth'):
        target(tmp_path / 'cut.pth').init_weights()


class _RunsCode:

    def __reduce__(self):
        return (os.system, ('echo pwned > /dev/null', ))


def test_pickle_that_runs_code_is_refused(tmp_path):
    torch.save({'model': {'x': _RunsCode()}}, tmp_path / 'evil.pth', pickle_module=pickle)
    with pytest.raises(RuntimeError, match='evil.pth'):
        target(tmp_path / 'evil.pth').init_weights()
