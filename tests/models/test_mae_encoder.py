"""ViTPose's ViT as MAE's encoder: masking, order restoring, the plain forward, non-square grids
(vitpose_mm.models.mae, vitpose_mm.models.layers.masking)."""
import re

import pytest
import torch
from mmpretrain.models.utils import build_2d_sincos_position_embedding

from vitpose_mm.models import ViT
from vitpose_mm.models.layers.masking import num_kept, random_masking
from vitpose_mm.models.mae import ViTPoseMAE, ViTPoseMAEDecoder, ViTPoseMAEHead, patchify, sincos_pos_embed, unpatchify

ARCH = dict(img_size=(64, 48), patch_size=16, embed_dim=32, depth=2, num_heads=2, qkv_bias=True)  # 4x3 grid


@pytest.mark.parametrize('length,ratio,kept', [(192, 0.75, 48), (48, 0.75, 12), (100, 0.9, 10), (12, 0.5, 6)])
def test_masking_keeps_the_requested_share_and_restores_order(length, ratio, kept):
    x = torch.randn(3, length, 8)
    kept_x, mask, ids_restore = random_masking(x, ratio)
    assert kept_x.shape == (3, kept, 8)
    assert mask.sum(1).tolist() == [length - kept] * 3  # exactly the share, per sample
    # the kept tokens are those with mask 0, and ids_restore puts [kept, placeholders] back into the original order
    full = torch.cat([kept_x, torch.full((3, length - kept, 8), float('nan'))], dim=1)
    restored = torch.gather(full, 1, ids_restore.unsqueeze(-1).expand(-1, -1, 8))
    visible = mask == 0
    assert torch.equal(restored[visible], x[visible])
    assert torch.isnan(restored[~visible]).all()
    assert not torch.equal(mask[0], mask[1])  # a random mask per sample


def test_mask_ratio_is_checked():
    assert num_kept(100, 0.9) == 10  # int(100 * (1 - 0.9)) would be 9
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match=f'mask_ratio.*{bad!r}'):
            ViTPoseMAE(**ARCH, mask_ratio=bad)
    with pytest.raises(ValueError, match='mask_ratio=0.99.*12'):
        ViTPoseMAE(**ARCH, mask_ratio=0.99)  # 12 tokens


def test_unmasked_encoder_equals_the_plain_vit():
    torch.manual_seed(0)
    mae = ViTPoseMAE(**ARCH, mask_ratio=0.0).eval()
    vit = ViT(**ARCH).eval()
    vit.load_state_dict(mae.state_dict())
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        plain = vit(x)[0]  # (2, 32, 4, 3)
        latent, mask, ids_restore = mae(x)
        assert torch.equal(mae(x, mask=None)[0], plain)  # what MAE.extract_feat calls
    assert latent.shape == (2, 1 + 12, 32) and mask.sum() == 0
    tokens = torch.gather(latent[:, 1:], 1, ids_restore.unsqueeze(-1).expand(-1, -1, 32))
    torch.testing.assert_close(tokens.transpose(1, 2).reshape(2, 32, 4, 3), plain, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(latent[:, 0], tokens.mean(1))  # the decoder's class-token slot


def test_masked_encoder_sees_only_the_kept_tokens():
    mae = ViTPoseMAE(**ARCH, mask_ratio=0.75).eval()
    x = torch.randn(1, 3, 64, 48, requires_grad=True)
    latent, mask, _ = mae(x)
    assert latent.shape == (1, 1 + 3, 32) and mask.sum() == 9
    latent.sum().backward()
    # the pixels the kept tokens see: token (i, j) convolves rows 16i-2 .. 16i+13 (padding 2), columns likewise
    seen = torch.zeros(64, 48, dtype=torch.bool)
    for k in (mask[0] == 0).nonzero().flatten().tolist():
        i, j = divmod(k, 3)
        seen[max(16 * i - 2, 0):16 * i + 14, max(16 * j - 2, 0):16 * j + 14] = True
    assert torch.equal(x.grad[0].abs().sum(0) > 0, seen)
    with pytest.raises(ValueError, match=r'\(96, 48\)'):
        mae(torch.randn(1, 3, 96, 48))


def test_sincos_positions_on_a_non_square_grid():
    # square grids: mmpretrain's (and MAE's) embedding exactly
    assert torch.equal(sincos_pos_embed((14, 14), 64), build_2d_sincos_position_embedding(14, 64, cls_token=True))
    pos = sincos_pos_embed((16, 12), 64)
    assert pos.shape == (1, 1 + 192, 64) and not pos[0, 0].any()
    omega = 1. / 10000 ** (torch.arange(16) / 16)
    for i, j in ((0, 5), (7, 11), (15, 3)):  # row 1 + i * 12 + j is patch (i, j): first half the row, second the column
        row = pos[0, 1 + i * 12 + j]
        expect = torch.cat([torch.sin(i * omega), torch.cos(i * omega), torch.sin(j * omega), torch.cos(j * omega)])
        torch.testing.assert_close(row, expect)
    mae = ViTPoseMAE(img_size=(256, 192), embed_dim=64, depth=1, num_heads=2)
    assert mae.patch_shape == (16, 12) and torch.equal(mae.pos_embed, pos) and not mae.pos_embed.requires_grad
    decoder = ViTPoseMAEDecoder(grid=(16, 12), embed_dim=64, decoder_embed_dim=32, decoder_depth=1,
                                decoder_num_heads=2)
    decoder.init_weights()  # mmpretrain's own would build 13x13 positions for 192 patches and fail
    assert torch.equal(decoder.decoder_pos_embed, sincos_pos_embed((16, 12), 32))
    latent, _, ids_restore = mae(torch.randn(2, 3, 256, 192))
    assert ViTPoseMAEDecoder(grid=(16, 12), embed_dim=64, decoder_embed_dim=32, decoder_depth=1,
                             decoder_num_heads=2)(latent, ids_restore).shape == (2, 192, 16 * 16 * 3)


def test_patchify_round_trip_on_a_non_square_grid():
    imgs = torch.randn(2, 3, 256, 192)
    patches = patchify(imgs, 16)
    assert patches.shape == (2, 192, 768)
    assert torch.equal(patches[1, 1 * 12 + 2], imgs[1, :, 16:32, 32:48].permute(1, 2, 0).reshape(-1))
    assert torch.equal(unpatchify(patches, 16, (16, 12)), imgs)
    from mmengine.registry import init_default_scope
    init_default_scope('mmpose')  # as after any pose config: the head still finds mmpretrain's loss
    head = ViTPoseMAEHead(loss=dict(type='PixelReconstructionLoss', criterion='L2'), grid=(16, 12))
    assert torch.equal(head.unpatchify(head.patchify(imgs)), imgs)
    with pytest.raises(ValueError, match='250x192.*patch_size=16'):
        patchify(torch.randn(1, 3, 250, 192), 16)
    with pytest.raises(ValueError, match='12x15'):
        unpatchify(patches, 16, (12, 15))


def test_decoder_and_head_take_an_h_w_grid_and_refuse_others():
    loss = dict(type='PixelReconstructionLoss', criterion='L2')
    decoder = ViTPoseMAEDecoder(grid=[4.0, 3], embed_dim=32, decoder_embed_dim=16, decoder_depth=1,
                                decoder_num_heads=2)
    assert decoder.grid == (4, 3) and type(decoder.grid[0]) is int
    for bad in ((16, ), (0, 12), (16, -1), (4, 3, 1)):
        with pytest.raises(ValueError, match=re.escape(f'grid must be (h, w) with positive sides, got {bad!r}')):
            ViTPoseMAEDecoder(grid=bad, embed_dim=32, decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2)
        with pytest.raises(ValueError, match=re.escape(repr(bad))):
            ViTPoseMAEHead(loss=loss, grid=bad)
    # the head's options reach mmpretrain's head; unpatchify uses its grid, patch size and channels
    head = ViTPoseMAEHead(loss=loss, grid=(3, 2), norm_pix=True, patch_size=8, in_channels=1)
    assert head.norm_pix and head.grid == (3, 2) and (head.patch_size, head.in_channels) == (8, 1)
    imgs = torch.randn(2, 1, 24, 16)
    assert head.patchify(imgs).shape == (2, 6, 64) and torch.equal(head.unpatchify(head.patchify(imgs)), imgs)
    assert not ViTPoseMAEHead(loss=loss).norm_pix  # mmpretrain's default: raw pixel targets


def test_decoder_init_follows_mae():
    """Positions for the (h, w) grid from construction on; MAE's LayerNorm eps 1e-6; a N(0, 0.02) mask token; the
    init_cfg applied first (mmpretrain's MAE configs: Xavier-uniform Linear layers)."""
    decoder = ViTPoseMAEDecoder(grid=(4, 3), embed_dim=32, decoder_embed_dim=2048, decoder_depth=1,
                                decoder_num_heads=2, init_cfg=dict(type='Constant', layer='Linear', val=0.5, bias=0.))
    assert torch.equal(decoder.decoder_pos_embed, sincos_pos_embed((4, 3), 2048))
    assert decoder.decoder_norm.eps == 1e-6 and decoder.decoder_blocks[0].ln1.eps == 1e-6
    decoder.decoder_pos_embed.data.zero_()
    torch.manual_seed(0)
    decoder.init_weights()
    assert torch.equal(decoder.decoder_pos_embed, sincos_pos_embed((4, 3), 2048))
    token = decoder.mask_token.detach().flatten()
    assert abs(token.std().item() - 0.02) < 0.002 and abs(token.mean().item()) < 0.002
    assert (decoder.decoder_embed.weight == 0.5).all() and (decoder.decoder_pred.bias == 0).all()
    other = ViTPoseMAEDecoder(grid=(4, 3), embed_dim=32, decoder_embed_dim=16, decoder_depth=1,
                              decoder_num_heads=2, norm_cfg=dict(type='LN', eps=1e-5))
    assert other.decoder_norm.eps == 1e-5


def test_encoder_init_and_defaults_follow_mae(tmp_path):
    """Sine-cosine positions restored and a Xavier-uniform patch embedding (over its flattened 3 x p x p fan-in),
    no drop path by default; a ``Pretrained`` init_cfg keeps the checkpoint's weights instead."""
    torch.manual_seed(0)
    mae = ViTPoseMAE(**dict(ARCH, embed_dim=512, num_heads=8), mask_ratio=0.5)
    assert mae.mask_ratio == 0.5 and type(mae.mask_ratio) is float
    assert all(blk.drop_path.drop_prob == 0 for blk in mae.blocks) and not mae.use_checkpoint
    mae.pos_embed.data.zero_()
    mae.init_weights()
    assert torch.equal(mae.pos_embed, sincos_pos_embed((4, 3), 512))
    w = mae.patch_embed.proj.weight.detach()
    bound = (6 / (3 * 16 * 16 + 512)) ** .5
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
    assert abs(w.std().item() - bound / 3 ** .5) < 0.01 * bound
    with torch.no_grad():
        mae.patch_embed.proj.weight.mul_(3)
        mae.pos_embed.add_(1)
    torch.save({'state_dict': mae.state_dict()}, tmp_path / 'mae.pth')
    loaded = ViTPoseMAE(**dict(ARCH, embed_dim=512, num_heads=8),
                        init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'mae.pth')))
    loaded.init_weights()
    assert torch.equal(loaded.patch_embed.proj.weight, mae.patch_embed.proj.weight)
    assert torch.equal(loaded.pos_embed, mae.pos_embed)


def test_masked_forward_with_gradient_checkpointing_is_the_same():
    """``use_checkpoint`` recomputes the blocks in backward (each block runs twice per step, in training only):
    same latent, same gradients; without it, or in eval mode, each block runs once. ``mask=False`` is the plain
    forward."""
    torch.manual_seed(0)
    plain = ViTPoseMAE(**ARCH, mask_ratio=0.5).train()
    ckpt = ViTPoseMAE(**ARCH, mask_ratio=0.5, use_checkpoint=True).train()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 48)
    outs, calls = [], []
    for model in (plain, ckpt):
        count = [0]
        model.blocks[0].register_forward_pre_hook(lambda *args, count=count: count.__setitem__(0, count[0] + 1))
        torch.manual_seed(1)
        latent, mask, ids = model(x)
        (latent ** 2).sum().backward()
        outs.append((latent, mask, ids, model.blocks[0].attn.qkv.weight.grad.clone()))
        calls.append(count[0])
        with torch.no_grad():
            model.eval()(x)
        calls.append(count[0])
    assert calls == [1, 2, 2, 3]
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b)
    with torch.no_grad():
        assert torch.equal(plain.eval()(x, mask=False)[0], ViT.forward(plain, x)[0])


def test_positions_without_class_row_and_one_channel_patches():
    pos = sincos_pos_embed((4, 3), 16, cls_row=False)
    assert pos.shape == (1, 12, 16) and torch.equal(pos, sincos_pos_embed((4, 3), 16)[:, 1:])
    imgs = torch.randn(1, 1, 8, 12)
    patches = patchify(imgs, 4)
    assert patches.shape == (1, 6, 16) and torch.equal(patches[0, 4], imgs[0, 0, 4:8, 4:8].reshape(-1))
    assert torch.equal(unpatchify(patches, 4, (2, 3), channels=1), imgs)
    with pytest.raises(ValueError, match=r'\(B, 6, 48\).*2x3.*\(1, 6, 16\)'):
        unpatchify(patches, 4, (2, 3))  # three channels by default
    with pytest.raises(ValueError, match='2x3'):
        unpatchify(patches[0], 4, (2, 3), channels=1)


def test_masking_follows_its_generator_and_the_input_dtype():
    """The noise comes from the given generator (the same seed, the same masks); the mask has the tokens' dtype;
    the smallest noise is kept, as in MAE."""
    x = torch.randn(2, 12, 4, dtype=torch.float64)
    first = random_masking(x, 0.5, generator=torch.Generator().manual_seed(7))
    second = random_masking(x, 0.5, generator=torch.Generator().manual_seed(7))
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    kept, mask, ids_restore = first
    assert mask.dtype == torch.float64 and ids_restore.dtype == torch.int64
    noise = torch.rand(2, 12, generator=torch.Generator().manual_seed(7))
    keep = noise.argsort(1)[:, :6]
    assert torch.equal(kept, torch.gather(x, 1, keep.unsqueeze(-1).expand(-1, -1, 4)))
    assert torch.equal(mask, torch.ones(2, 12, dtype=torch.float64).scatter(1, keep, 0.))
    assert num_kept(12, 0) == 12 and num_kept(10, 0.25) == 8  # 7.5 rounds to 8
    assert num_kept(4, 0.75) == 1  # one kept token is enough


def test_decoder_options_reach_mmpretrain():
    """Patch size, channels, heads and MLP ratio build the decoder they name; a grid side of 1 is a grid."""
    decoder = ViTPoseMAEDecoder(grid=(1, 3), patch_size=8, in_chans=1, embed_dim=32, decoder_embed_dim=16,
                                decoder_depth=1, decoder_num_heads=2, mlp_ratio=2)
    assert decoder.decoder_pred.out_features == 8 * 8 * 1 and decoder.decoder_embed.in_features == 32
    block = decoder.decoder_blocks[0]
    assert block.attn.num_heads == 2 and block.ffn.layers[0][0].out_features == 32
    assert decoder.decoder_pos_embed.shape == (1, 1 + 3, 16)


def test_encoder_options_reach_the_vit(tmp_path):
    """Patch size, MLP ratio, drop path, fused attention reach the ViT; a ratio that keeps one of 12 tokens (but
    none of 9) is accepted for a 4x3 grid."""
    mae = ViTPoseMAE(img_size=(32, 24), patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_ratio=2,
                     drop_path_rate=0.2, fused_attn=False)
    assert mae.patch_shape == (4, 3) and mae.blocks[0].mlp.fc1.out_features == 64
    assert mae.blocks[1].drop_path.drop_prob == pytest.approx(0.2) and not mae.blocks[0].attn.fused_attn
    assert ViTPoseMAE(**ARCH, mask_ratio=0.95)(torch.randn(1, 3, 64, 48))[0].shape == (1, 1 + 1, 32)
