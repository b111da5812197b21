"""The ViT backbone with per-block window / shifted / pooled attention, 1/8 features (ratio=2), loading plain
weights into every variant, and the errors of bad arguments."""
import pytest
import torch

from vitpose_mm.models.backbones.pos_embed import resize_pos_embed
from vitpose_mm.models.backbones.vit import ViT
from vitpose_mm.models.layers import Attention, WindowAttention

# a 128x96 input gives an 8x6 grid at ratio 1
DIMS = dict(img_size=(128, 96), patch_size=16, embed_dim=32, depth=4, num_heads=4, qkv_bias=True)
VARIANTS = {
    'window': dict(window_size=(4, 3), use_rel_pos=True),
    'window-shift': dict(window_size=(4, 3), shift=True, use_rel_pos=True),
    'window-pool': dict(window_size=(4, 3), pool=True, use_rel_pos=True),
    'window-shift-pool': dict(window_size=(4, 3), shift=True, pool=True, use_rel_pos=True),
    'full-window': dict(window_size=(4, 3), global_blocks=(1, 3), use_rel_pos=True),
    'odd-window-shift-pool': dict(window_size=(3, 4), shift=True, pool=True),  # padded to 9x8
}


def vit(**kw):
    return ViT(**{**DIMS, **kw})


def randomise_rel_pos(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'rel_pos' in name:
                p.normal_(std=0.5)


def test_block_attention_plan():
    model = vit(window_size=(4, 3), shift=True, pool=True, global_blocks=(2, ), use_rel_pos=True)
    kinds = [type(b.attn).__name__ for b in model.blocks]
    assert kinds == ['WindowAttention', 'WindowAttention', 'Attention', 'WindowAttention']
    assert [b.attn.shift_size for b in model.blocks if isinstance(b.attn, WindowAttention)] == [(0, 0), (2, 1),
                                                                                                (2, 1)]
    assert model.block_attention[2] is None and model.block_attention[0]['pool']
    assert all(type(b.attn) is Attention for b in vit().blocks)  # default: the released model
    assert sorted(vit().state_dict()) == sorted(k for k in model.state_dict() if 'rel_pos' not in k)


def test_window_of_the_whole_grid_is_the_plain_model():
    plain = vit().eval()
    windowed = vit(window_size=(8, 6)).eval()
    windowed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 128, 96)
    torch.testing.assert_close(windowed(x)[0], plain(x)[0], atol=1e-5, rtol=1e-5)
    small = vit(window_size=(4, 3)).eval()
    small.load_state_dict(plain.state_dict())
    assert not torch.allclose(small(x)[0], plain(x)[0], atol=1e-3)


@pytest.mark.parametrize('name', sorted(VARIANTS))
def test_plain_checkpoint_loads_into_every_variant_and_fused_equals_written_out(name, tmp_path):
    plain_sd = vit().state_dict()
    fused = vit(**VARIANTS[name]).eval()
    fused.load_state_dict(plain_sd, strict=True)  # rel_pos tables filled with zeros by the load hook
    assert all(p.abs().sum() == 0 for n, p in fused.named_parameters() if 'rel_pos' in n)
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in plain_sd.items()}}, tmp_path / 'plain.pth')
    loaded = vit(**VARIANTS[name], init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'plain.pth')))
    loaded.init_weights()  # the init_cfg loader accepts missing rel_pos tables too
    torch.testing.assert_close(loaded.blocks[1].attn.qkv.weight, plain_sd['blocks.1.attn.qkv.weight'])
    randomise_rel_pos(fused)
    written = vit(**VARIANTS[name], fused_attn=False).eval()
    written.load_state_dict(fused.state_dict())
    x = torch.randn(2, 3, 128, 96)
    out = fused(x)[0]
    assert out.shape == (2, 32, 8, 6) and out.isfinite().all()
    torch.testing.assert_close(out, written(x)[0], atol=1e-5, rtol=1e-5)


def test_gradient_checkpointing_moe_and_extra_tokens_with_windows():
    kw = dict(VARIANTS['window-shift-pool'], num_expert=2, part_features=8, num_extra_tokens=2)
    plain = vit(**kw)
    randomise_rel_pos(plain)
    ckpt = vit(**kw, use_checkpoint=True)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 128, 96)
    source = torch.tensor([0, 1])
    plain(x, source)[0].square().sum().backward()
    ckpt(x, source)[0].square().sum().backward()
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=name)
    assert plain.blocks[1].attn.rel_pos_h.grad.abs().sum() > 0
    assert plain.extra_tokens.grad.abs().sum() > 0  # the extra tokens reach the patch grid through the windows
    plain.eval()
    with torch.no_grad():
        assert not torch.allclose(plain(x, source)[0], plain(x, torch.tensor([1, 0]))[0], atol=1e-4)


def test_ratio_2_gives_1_8_features_and_resamples_pos_embed():
    model = ViT(img_size=(256, 192), patch_size=16, embed_dim=32, depth=1, num_heads=4, ratio=2).eval()
    assert model.patch_shape == (32, 24)
    assert model.patch_embed.proj.stride == (8, 8) and model.patch_embed.proj.padding == (4, 4)
    assert model.pos_embed.shape == (1, 1 + 32 * 24, 32)
    assert model(torch.randn(1, 3, 256, 192))[0].shape == (1, 32, 32, 24)
    mae = ViT(img_size=224, patch_size=16, embed_dim=32, depth=1, num_heads=4).state_dict()  # 14x14 grid
    model.load_state_dict(mae)
    torch.testing.assert_close(model.pos_embed.data, resize_pos_embed(mae['pos_embed'], (14, 14), (32, 24)))
    assert ViT(img_size=(256, 192), embed_dim=32, depth=1, num_heads=4, ratio=4).patch_shape == (64, 48)


@pytest.mark.parametrize('kw,arg', [
    (dict(window_size=(9, 3)), 'window_size'),  # larger than the 8x6 grid
    (dict(window_size=0), 'window_size'),
    (dict(window_size=(4, -1)), 'window_size'),
    (dict(window_size=(4, 3, 2)), 'window_size'),
    (dict(window_size=2.5), 'window_size'),
    (dict(shift=True), 'shift'),
    (dict(pool=True), 'pool'),
    (dict(use_rel_pos=True), 'use_rel_pos'),
    (dict(global_blocks=(1, )), 'global_blocks'),
    (dict(window_size=4, global_blocks=(4, )), 'global_blocks'),
    (dict(window_size=4, global_blocks=(-1, )), 'global_blocks'),
    (dict(window_size=4, global_blocks=(1, 1)), 'global_blocks'),
    (dict(window_size=4, global_blocks=2), 'global_blocks'),
    (dict(ratio=3), 'ratio'),
    (dict(ratio=8), 'ratio'),
    (dict(ratio=0), 'ratio'),
])
def test_bad_arguments_name_the_argument(kw, arg):
    with pytest.raises(ValueError, match=arg):
        vit(**kw)


def test_plain_pose_checkpoint_loads_into_a_window_pose_model(tmp_path):
    """The pose-checkpoint path (``vitpose_mm.checkpoints.load_checkpoint``, used by the inference API) accepts the
    missing relative-position tables and nothing else."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    from conftest import ROOT
    from vitpose_mm.checkpoints import CheckpointMismatchError, load_checkpoint
    cfg = Config.fromfile(f'{ROOT}/configs/attention/demo/td-hm_ViTPose-micro-ratio2_1xb32-6e_synthetic-128x96.py')
    init_default_scope('mmpose')
    plain = MODELS.build(cfg.model)
    torch.save({'state_dict': plain.state_dict()}, tmp_path / 'plain.pth')
    cfg.model.backbone.update(window_size=(4, 4), shift=True, pool=True, use_rel_pos=True)
    windowed = MODELS.build(cfg.model)
    load_checkpoint(windowed, str(tmp_path / 'plain.pth'))
    torch.testing.assert_close(windowed.head.final_layer.weight, plain.head.final_layer.weight)
    assert windowed.backbone.blocks[1].attn.rel_pos_w.abs().sum() == 0
    sd = plain.state_dict()
    del sd['backbone.blocks.1.attn.proj.weight']
    torch.save({'state_dict': sd}, tmp_path / 'broken.pth')
    with pytest.raises(CheckpointMismatchError, match='blocks.1.attn.proj'):
        load_checkpoint(windowed, str(tmp_path / 'broken.pth'))
