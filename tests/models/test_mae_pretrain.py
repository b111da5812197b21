"""MAE pre-training: a few iterations on synthetic person crops lower the reconstruction loss (the demo config's
model, data pipeline, data preprocessor and optimizer, through mmengine's train_step); the encoder's and decoder's
defaults (MAE's ViT-B and 512-channel decoder) and options; gradient checkpointing of the masked forward."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DATASETS, init_default_scope
from mmpretrain.registry import MODELS

from conftest import ROOT
from vitpose_mm.synthetic import generate_synthetic_coco
from vitpose_mm.models.layers.masking import num_kept
from vitpose_mm.models.mae import ViTPoseMAE, ViTPoseMAEDecoder, ViTPoseMAEHead

DEMO = osp.join(ROOT, 'configs', 'mae', 'demo', 'mae_ViTPose-micro_1xb64-30e_synthetic-crops-128x96.py')


@pytest.mark.slow  # trains MAE for a few dozen steps
def test_pretraining_lowers_the_reconstruction_loss(tmp_path):
    generate_synthetic_coco(tmp_path, num_train=3, num_val=0, seed=1)
    cfg = Config.fromfile(DEMO)
    init_default_scope(cfg.default_scope)
    cfg.train_dataloader.dataset.update(data_root=str(tmp_path) + '/')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    torch.manual_seed(0)
    batch = default_collate([dataset[i] for i in range(min(len(dataset), 8))])
    model = MODELS.build(cfg.model)
    model.init_weights()
    optim = build_optim_wrapper(model, dict(cfg.optim_wrapper, optimizer=dict(cfg.optim_wrapper.optimizer, lr=2e-3)))

    def loss() -> float:  # the same masks every time
        torch.manual_seed(123)
        with torch.no_grad():
            data = model.data_preprocessor(batch, True)
            return float(model.loss(**data)['loss'])

    before = loss()
    assert 0.8 < before < 1.3  # norm_pix targets have unit variance; an untrained decoder predicts about 0
    for _ in range(8):
        out = model.train_step(batch, optim)
    after = loss()
    assert after < 0.85 * before, (before, after)
    assert set(out) == {'loss'}
    assert not model.backbone.pos_embed.requires_grad  # MAE's fixed positions


SMALL = dict(img_size=(64, 48), patch_size=16, embed_dim=32, depth=2, num_heads=2)  # a 4x3 grid


def test_defaults_are_mae_base():
    """Unconfigured, the encoder is MAE's ViT-B on ViTPose's 256x192 crops (768 channels, 12 blocks of 12 heads,
    qkv bias, 75% masking) and the decoder MAE's (768 -> 512 channels, 8 blocks of 16 heads, MLP ratio 4, LN eps
    1e-6, 16x16x3 pixels per patch), as He et al. sec. 4 and the official models_mae.py mae_vit_base_patch16."""
    with torch.device('meta'):  # shapes only: no memory, no initialisation time
        encoder, decoder = ViTPoseMAE(), ViTPoseMAEDecoder()
    assert encoder.patch_shape == (16, 12) and encoder.pos_embed.shape[-1] == 768 and len(encoder.blocks) == 12
    attn = encoder.blocks[0].attn
    assert attn.num_heads == 12 and attn.qkv.bias is not None and encoder.mask_ratio == 0.75
    assert encoder.blocks[0].mlp.fc1.out_features == 3072
    assert (decoder.decoder_embed.in_features, decoder.decoder_embed.out_features) == (768, 512)
    assert len(decoder.decoder_blocks) == 8 and decoder.decoder_pos_embed.shape == (1, 1 + 16 * 12, 512)
    block = decoder.decoder_blocks[0]
    assert block.attn.num_heads == 16 and block.ffn.layers[0][0].out_features == 2048 and block.ln1.eps == 1e-6
    assert decoder.decoder_pred.out_features == 16 * 16 * 3
    assert ViTPoseMAEHead(loss=dict(type='PixelReconstructionLoss', criterion='L2')).grid == (16, 12)


def test_options_reach_the_encoder_and_decoder():
    """Patch size, MLP ratio, qkv bias, drop path, fused attention, heads and channels are those asked for: a
    32x24 input in 8x8 patches is a 4x3 grid whose decoder predicts 8 x 8 x 1 pixels per patch."""
    encoder = ViTPoseMAE(img_size=(32, 24), patch_size=8, embed_dim=32, depth=2, num_heads=2, mlp_ratio=2,
                         qkv_bias=False, drop_path_rate=0.1, fused_attn=False, mask_ratio=0.5)
    assert encoder.patch_shape == (4, 3) and encoder.patch_embed.proj.kernel_size == (8, 8)
    assert encoder.blocks[0].mlp.fc1.out_features == 64 and encoder.blocks[0].attn.qkv.bias is None
    assert abs(encoder.blocks[-1].drop_path.drop_prob - 0.1) < 1e-6 and not encoder.blocks[0].attn.fused_attn
    decoder = ViTPoseMAEDecoder(grid=(4, 3), patch_size=8, in_chans=1, embed_dim=32, decoder_embed_dim=16,
                                decoder_depth=1, decoder_num_heads=4, mlp_ratio=2)
    block = decoder.decoder_blocks[0]
    assert block.attn.num_heads == 4 and block.ffn.layers[0][0].out_features == 32
    latent, _, ids_restore = encoder(torch.randn(2, 3, 32, 24))
    assert latent.shape == (2, 1 + 6, 32) and decoder(latent, ids_restore).shape == (2, 12, 8 * 8 * 1)
    # a side of one patch is a grid too
    assert ViTPoseMAEDecoder(grid=(1, 3), embed_dim=32, decoder_embed_dim=16, decoder_depth=1,
                             decoder_num_heads=2).decoder_pos_embed.shape == (1, 1 + 3, 16)
    head = ViTPoseMAEHead(loss=dict(type='PixelReconstructionLoss', criterion='L2'), grid=(1, 2), patch_size=4)
    imgs = torch.randn(1, 3, 4, 8)
    assert torch.equal(head.unpatchify(head.patchify(imgs)), imgs)


def test_a_ratio_keeping_one_token():
    """A ratio that keeps a single token of the grid is accepted (12 tokens at 0.95: 0.6 rounds to 1) and the
    encoder sees that one token; one that keeps none (12 at 0.97: 0.36) is refused."""
    assert num_kept(4, 0.75) == 1 and num_kept(12, 0.95) == 1
    encoder = ViTPoseMAE(**SMALL, mask_ratio=0.95)
    latent, mask, _ = encoder(torch.randn(2, 3, 64, 48))
    assert latent.shape == (2, 1 + 1, 32) and mask.sum(1).tolist() == [11., 11.]
    with pytest.raises(ValueError, match='mask_ratio=0.97.*12'):
        ViTPoseMAE(**SMALL, mask_ratio=0.97)


def test_masked_forward_names_the_sizes_that_differ():
    """The masked forward needs the grid its decoder positions were made for; the error gives both sizes and grids."""
    encoder = ViTPoseMAE(**SMALL)
    with pytest.raises(ValueError, match=r'\(96, 48\).*6x3.*img_size=\(64, 48\).*4x3'):
        encoder(torch.randn(1, 3, 96, 48))


def test_gradient_checkpointing_recomputes_the_blocks_in_training_only():
    """With ``use_checkpoint`` the blocks of a training forward run again in backward (non-reentrant, so
    ``torch.autograd.grad`` works); in eval mode, or without the option, each block runs once."""
    def calls(model: ViTPoseMAE, train: bool) -> int:
        count = [0]

        def counted(forward):
            def run(*args):
                count[0] += 1
                return forward(*args)
            return run

        for blk in model.blocks:
            blk.forward = counted(blk.forward)  # an instance attribute: what checkpointing's recompute calls too
        model.train(train)
        x = torch.randn(1, 3, 64, 48, requires_grad=True)
        latent = model(x)[0]
        assert torch.autograd.grad(latent.sum(), x)[0].abs().sum() > 0
        for blk in model.blocks:
            del blk.forward  # back to the class's
        return count[0]

    torch.manual_seed(0)
    checkpointed = ViTPoseMAE(**SMALL, mask_ratio=0.5, use_checkpoint=True)
    assert calls(checkpointed, train=True) == 2 * 2  # two blocks, each recomputed
    assert calls(checkpointed, train=False) == 2
    assert calls(ViTPoseMAE(**SMALL, mask_ratio=0.5), train=True) == 2


def test_head_builds_its_loss_under_the_pose_scope(mmlogger_warnings):
    """Under mmpose's default scope (a pose config ran before), the head still builds mmpretrain's pixel loss, from
    mmpretrain's registry, without mmengine's "Failed to search registry" fallback warning."""
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmpose'):
        head = ViTPoseMAEHead(loss=dict(type='PixelReconstructionLoss', criterion='L2'))
    assert type(head.loss_module).__name__ == 'PixelReconstructionLoss'
    assert not [line for line in mmlogger_warnings if 'registry' in line]
