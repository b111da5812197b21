import numpy as np
import pytest
import torch

from vitpose_mm.models.layers.pos_embed import resize_pos_embed
from vitpose_mm.models.backbones.vit import ViT

SIZES = {'S': dict(embed_dim=384, depth=12, num_heads=12), 'B': dict(embed_dim=768, depth=12, num_heads=12)}


def tiny(**kw):
    args = dict(img_size=(64, 48), patch_size=16, embed_dim=32, depth=2, num_heads=4, qkv_bias=True)
    args.update(kw)
    return ViT(**args)


def test_fused_and_manual_attention_agree():
    fused = tiny(depth=3).eval()
    manual = tiny(depth=3, fused_attn=False).eval()
    manual.load_state_dict(fused.state_dict())
    x = torch.randn(2, 3, 64, 48)
    a, b = fused(x)[0], manual(x)[0]
    assert a.abs().mean() > 0.1
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def official_backbone_keys(depth):
    keys = ['pos_embed', 'patch_embed.proj.weight', 'patch_embed.proj.bias', 'last_norm.weight', 'last_norm.bias']
    for i in range(depth):
        for part in ('norm1', 'attn.qkv', 'attn.proj', 'norm2', 'mlp.fc1', 'mlp.fc2'):
            keys += [f'blocks.{i}.{part}.weight', f'blocks.{i}.{part}.bias']
    return keys


def test_official_parameter_names_and_shapes_vit_b():
    model = ViT(img_size=(256, 192), qkv_bias=True, **SIZES['B'])
    sd = model.state_dict()
    assert sorted(sd) == sorted(official_backbone_keys(12))
    assert sd['pos_embed'].shape == (1, 1 + 16 * 12, 768)
    assert sd['patch_embed.proj.weight'].shape == (768, 3, 16, 16)
    assert model.patch_embed.proj.padding == (2, 2)
    assert sd['blocks.0.attn.qkv.weight'].shape == (3 * 768, 768)
    assert sd['blocks.0.mlp.fc1.weight'].shape == (4 * 768, 768)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(86e6, rel=0.02)


@pytest.mark.parametrize('size', ['S', pytest.param('B', marks=pytest.mark.slow)])  # B: about 5 s of CPU each
@pytest.mark.parametrize('hw,grid', [((256, 192), (16, 12)), ((384, 288), (24, 18))])
def test_output_shapes(size, hw, grid):
    model = ViT(img_size=hw, qkv_bias=True, **SIZES[size]).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, *hw))
    assert isinstance(out, tuple) and out[0].shape == (1, SIZES[size]['embed_dim'], *grid)


def _bicubic_1d_matrix(n_in, n_out, a=-0.75):
    """Interpolation matrix of PyTorch-style bicubic (Keys kernel, a=-0.75, align_corners=False, clamped edges)."""

    def w(t):
        t = abs(t)
        if t <= 1:
            return (a + 2) * t**3 - (a + 3) * t**2 + 1
        if t < 2:
            return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
        return 0.

    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        src = (i + 0.5) * n_in / n_out - 0.5
        x0 = int(np.floor(src))
        for k in range(x0 - 1, x0 + 3):
            m[i, min(max(k, 0), n_in - 1)] += w(src - k)
    return m


def test_pos_embed_resize_14x14_to_16x12_matches_independent_bicubic():
    c = 8
    pos = torch.randn(1, 1 + 14 * 14, c, dtype=torch.float64)
    out = resize_pos_embed(pos, (14, 14), (16, 12))
    assert out.shape == (1, 1 + 16 * 12, c)
    torch.testing.assert_close(out[:, :1], pos[:, :1])  # the class-token row is kept as it is
    grid = pos[0, 1:].reshape(14, 14, c).numpy()
    mh, mw = _bicubic_1d_matrix(14, 16), _bicubic_1d_matrix(14, 12)
    expected = np.einsum('ih,jw,hwc->ijc', mh, mw, grid).reshape(16 * 12, c)
    np.testing.assert_allclose(out[0, 1:].numpy(), expected, atol=1e-5)


def test_official_state_dict_with_cls_token_and_other_grid_loads():
    src = tiny(img_size=(96, 96)).state_dict()  # 6x6 grid
    src['cls_token'] = torch.zeros(1, 1, 32)
    model = tiny()  # 4x3 grid
    model.load_state_dict(src, strict=True)
    expected = resize_pos_embed(src['pos_embed'], (6, 6), (4, 3))
    torch.testing.assert_close(model.pos_embed.data, expected)


def test_other_input_size_resamples_pos_embed_on_the_fly():
    model = tiny().eval()
    x = torch.randn(1, 3, 96, 64)
    out = model(x)[0]
    assert out.shape == (1, 32, 6, 4)
    other = tiny(img_size=(96, 64)).eval()
    sd = model.state_dict()
    sd['pos_embed'] = resize_pos_embed(sd['pos_embed'], (4, 3), (6, 4))
    other.load_state_dict(sd)
    torch.testing.assert_close(out, other(x)[0])


def test_gradient_checkpointing_gives_the_same_gradients():
    plain = tiny()
    ckpt = tiny(use_checkpoint=True)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 48)
    plain(x)[0].square().sum().backward()
    ckpt(x)[0].square().sum().backward()
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_moe_expert_selection_per_sample():
    model = tiny(num_expert=3, part_features=8).eval()
    assert model.state_dict()['blocks.0.mlp.fc2.weight'].shape == (24, 128)
    assert model.state_dict()['blocks.0.mlp.experts.2.weight'].shape == (8, 128)
    x = torch.randn(3, 3, 64, 48)
    out = model(x, dataset_source=torch.tensor([0, 1, 2]))[0]
    for i in range(3):
        single = model(x[i:i + 1], dataset_source=torch.tensor([i]))[0]
        torch.testing.assert_close(out[i:i + 1], single, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(model(x[:1], torch.tensor([0]))[0], model(x[:1], torch.tensor([1]))[0])
    model.default_dataset = 2
    torch.testing.assert_close(model(x[2:])[0], out[2:], atol=1e-5, rtol=1e-5)


def test_frozen_stages_stay_frozen_after_train():
    model = tiny(frozen_stages=1)
    model.train()
    assert not model.patch_embed.training and not model.blocks[0].training and model.blocks[1].training
    assert not model.pos_embed.requires_grad
    assert not any(p.requires_grad for p in model.blocks[0].parameters())
    assert all(p.requires_grad for p in model.blocks[1].parameters())


def test_layer_depth_and_no_weight_decay():
    model = tiny(depth=3)
    assert model.get_layer_depth('backbone.pos_embed') == (0, 4)
    assert model.get_layer_depth('backbone.patch_embed.proj.weight') == (0, 4)
    assert model.get_layer_depth('backbone.blocks.2.mlp.fc1.weight') == (3, 4)
    assert model.get_layer_depth('backbone.last_norm.weight') == (4, 4)
    assert model.get_layer_depth('head.final_layer.weight') == (4, 4)
    assert model.get_layer_depth('backbone.extra_tokens') == (0, 4)
    assert model.get_layer_depth('neck.x', prefix='backbone.') == (4, 4)
    assert model.no_weight_decay() == {'pos_embed', 'extra_tokens'}  # no class token in ViTPose
    assert {n for n, _ in model.named_parameters()} & {'cls_token'} == set()


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match='not_an_arg'):
        ViT(not_an_arg=1)
    with pytest.raises(ValueError, match='num_heads'):
        ViT(embed_dim=30, num_heads=4)


def test_moe_with_a_single_expert_runs():
    model = tiny(num_expert=1, part_features=8).eval()
    assert model(torch.randn(1, 3, 64, 48))[0].shape == (1, 32, 4, 3)
