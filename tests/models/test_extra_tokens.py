"""ViT extra tokens: plain behaviour and checkpoint layout unchanged without them; where they go when used."""
import pytest
import torch

from vitpose_mm.checkpoints import load_backbone_weights
from vitpose_mm.models.backbones.vit import ViT


def tiny(**kw):
    args = dict(img_size=(64, 48), patch_size=16, embed_dim=32, depth=2, num_heads=4, qkv_bias=True)
    args.update(kw)
    return ViT(**args)


def test_no_extra_tokens_changes_nothing():
    """Without tokens: the official keys and forward (independent reference); with tokens, the other weights are
    initialised exactly as without them (the token init does not consume the global random stream)."""
    from test_reference_forward import reference_vit
    torch.manual_seed(0)
    plain = tiny().eval()
    torch.manual_seed(0)
    with_tokens = tiny(num_extra_tokens=2).eval()
    assert not hasattr(plain, 'extra_tokens') and 'extra_tokens' not in plain.state_dict()
    sd = with_tokens.state_dict()
    assert sorted(sd) == sorted([*plain.state_dict(), 'extra_tokens'])
    assert all(torch.equal(v, sd[k]) for k, v in plain.state_dict().items())
    with torch.no_grad():
        plain.pos_embed.normal_(0, 0.5)  # make the class row matter
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        got = plain(x)[0]
    torch.testing.assert_close(got, reference_vit(plain.state_dict(), x, depth=2, heads=4), rtol=0, atol=2e-5)


def test_tokens_are_appended_after_pos_embed_and_dropped_before_last_norm():
    model = tiny(num_extra_tokens=2).eval()
    assert model.state_dict()['extra_tokens'].shape == (1, 2, 32)
    with torch.no_grad():
        model.extra_tokens.normal_()
        x = torch.randn(2, 3, 64, 48)
        out = model(x)[0]
        # written out: patches + position (class row added to each), then the tokens, through every block
        patches, (hp, wp) = model.patch_embed(x)
        seq = patches + model.pos_embed[:, 1:] + model.pos_embed[:, :1]
        seq = torch.cat([seq, model.extra_tokens.expand(2, -1, -1)], dim=1)
        for blk in model.blocks:
            seq = blk(seq)
        expected = model.last_norm(seq[:, :hp * wp]).transpose(1, 2).reshape(2, 32, hp, wp)
        without = tiny().eval()
        without.load_state_dict({k: v for k, v in model.state_dict().items() if k != 'extra_tokens'})
        plain = without(x)[0]
    assert out.shape == (2, 32, 4, 3)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert (out - plain).abs().mean() > 1e-3  # the patches attend to the tokens


def test_tokens_given_in_forward_replace_the_own_ones():
    model = tiny(num_extra_tokens=1).eval()
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        own = model(x)[0]
        given = model(x, extra_tokens=model.extra_tokens.clone())[0]
        per_sample = model(x, extra_tokens=model.extra_tokens.expand(2, -1, -1))[0]
        three = model(x, extra_tokens=torch.randn(3, 32))[0]  # (n, C): any number of tokens
        plain = model(x, extra_tokens=torch.zeros(1, 0, 32))[0]
    torch.testing.assert_close(given, own, rtol=0, atol=0)
    torch.testing.assert_close(per_sample, own, rtol=0, atol=0)
    assert three.shape == own.shape and not torch.allclose(three, own)
    assert not torch.allclose(plain, own)
    with pytest.raises(ValueError, match=r'\(1, 1, 16\)'):
        model(x, extra_tokens=torch.zeros(1, 1, 16))


def test_learned_or_frozen_and_what_the_optimizer_is_told():
    learned, frozen = tiny(num_extra_tokens=1), tiny(num_extra_tokens=1, extra_tokens_trainable=False)
    assert learned.extra_tokens.requires_grad and not frozen.extra_tokens.requires_grad
    frozen.train()
    assert not frozen.extra_tokens.requires_grad
    assert learned.get_layer_depth('backbone.extra_tokens') == (0, 3)
    assert 'extra_tokens' in learned.no_weight_decay()
    learned(torch.randn(1, 3, 64, 48))[0].square().sum().backward()
    assert learned.extra_tokens.grad is not None and learned.extra_tokens.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='num_extra_tokens'):
        tiny(num_extra_tokens=-1)


def test_gradient_checkpointing_with_tokens():
    a = tiny(num_extra_tokens=1)
    b = tiny(num_extra_tokens=1, use_checkpoint=True)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 64, 48)
    a(x)[0].square().sum().backward()
    b(x)[0].square().sum().backward()
    torch.testing.assert_close(a.extra_tokens.grad, b.extra_tokens.grad, rtol=1e-5, atol=1e-6)


def test_pretrained_init_keeps_the_token(tmp_path):
    source = tiny()
    path = tmp_path / 'plain.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in source.state_dict().items()}}, path)
    model = tiny(num_extra_tokens=1, extra_tokens_trainable=False)
    token = model.extra_tokens.detach().clone()
    load_backbone_weights(model, str(path))
    torch.testing.assert_close(model.extra_tokens, token, rtol=0, atol=0)
    torch.testing.assert_close(model.pos_embed, source.pos_embed, rtol=0, atol=0)


def test_tokens_do_not_shift_the_random_init():
    torch.manual_seed(0)
    plain = tiny()
    after_plain = torch.rand(1)
    torch.manual_seed(0)
    with_tokens = tiny(num_extra_tokens=2)
    after_tokens = torch.rand(1)
    sd = with_tokens.state_dict()
    assert all(torch.equal(sd[k], v) for k, v in plain.state_dict().items())
    assert torch.equal(after_plain, after_tokens) and with_tokens.extra_tokens.std() > 0.005
