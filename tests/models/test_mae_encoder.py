"""ViTPose's ViT as MAE's encoder: masking, order restoring, the plain forward, non-square grids
(vitpose_mm.models.mae, vitpose_mm.models.layers.masking)."""
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
        with pytest.raises(ValueError, match='mask_ratio must be in'):
            ViTPoseMAE(**ARCH, mask_ratio=bad)
    with pytest.raises(ValueError, match='keeps no token'):
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
    with pytest.raises(ValueError, match='masked forward'):
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
    with pytest.raises(ValueError, match='not divisible'):
        patchify(torch.randn(1, 3, 250, 192), 16)
    with pytest.raises(ValueError, match='patches of a 12x15 grid'):
        unpatchify(patches, 16, (12, 15))
