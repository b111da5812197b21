"""The ViT forward against an independent reference written with torch.nn.functional only.

The reference follows the official ViTPose ``vit.py`` line by line (patch conv with padding 2, the class-token
position row added to every patch, pre-norm blocks with eps 1e-6, written-out attention, GELU MLP, ``last_norm``) and
shares no code with :mod:`vitpose_mm.models`. A model that dropped the class row (as mmpose 1.x does), lost the
attention scale, or mixed up the norms would differ from it by far more than the tolerance.
"""
import torch
import torch.nn.functional as F

from random_weights import randomize_
from vitpose_mm.models.backbones.vit import ViT

DIMS = dict(img_size=(64, 48), patch_size=16, embed_dim=32, depth=2, num_heads=4, qkv_bias=True)


def reference_vit(sd: dict, x: torch.Tensor, depth: int, heads: int, eps: float = 1e-6) -> torch.Tensor:
    """Official ViTPose forward, (B, 3, H, W) -> (B, C, H/16, W/16), from a vitpose_mm/official state dict."""
    x = F.conv2d(x, sd['patch_embed.proj.weight'], sd['patch_embed.proj.bias'], stride=16, padding=2)
    B, C, H, W = x.shape
    t = x.flatten(2).transpose(1, 2)
    pos = sd['pos_embed']
    t = t + pos[:, 1:] + pos[:, :1]  # official: x + self.pos_embed[:, 1:] + self.pos_embed[:, :1]
    d = C // heads
    for i in range(depth):
        p = lambda name: sd[f'blocks.{i}.{name}']  # noqa: E731
        h = F.layer_norm(t, (C, ), p('norm1.weight'), p('norm1.bias'), eps)
        q, k, v = F.linear(h, p('attn.qkv.weight'), p('attn.qkv.bias')).reshape(B, -1, 3, heads, d).permute(
            2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) * d**-0.5).softmax(dim=-1)
        t = t + F.linear((attn @ v).transpose(1, 2).reshape(B, -1, C), p('attn.proj.weight'), p('attn.proj.bias'))
        h = F.layer_norm(t, (C, ), p('norm2.weight'), p('norm2.bias'), eps)
        h = F.linear(F.gelu(F.linear(h, p('mlp.fc1.weight'), p('mlp.fc1.bias'))), p('mlp.fc2.weight'),
                     p('mlp.fc2.bias'))
        t = t + h
    t = F.layer_norm(t, (C, ), sd['last_norm.weight'], sd['last_norm.bias'], eps)
    return t.transpose(1, 2).reshape(B, C, H, W)


def _model(**kw) -> ViT:
    return randomize_(ViT(**{**DIMS, **kw}), seed=3).eval()


def test_vit_equals_the_official_forward_both_attention_paths():
    x = torch.randn(2, 3, 64, 48)
    for fused in (True, False):
        model = _model(fused_attn=fused)
        with torch.no_grad():
            got = model(x)[0]
        want = reference_vit(model.state_dict(), x, DIMS['depth'], DIMS['num_heads'])
        assert got.shape == (2, 32, 4, 3)
        torch.testing.assert_close(got, want, rtol=0, atol=2e-5)


def test_class_row_of_pos_embed_reaches_every_patch():
    """Moving only the class-token row moves every output position; mmpose 1.x's zero row would not."""
    model = _model()
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        before = model(x)[0]
        model.pos_embed[:, 0] += torch.randn(32)  # per channel: a uniform shift would vanish in LayerNorm
        after = model(x)[0]
    changed = (after - before).abs().amax(dim=1)  # (1, Hp, Wp): the largest change at each position
    assert changed.min() > 1e-2
    torch.testing.assert_close(after, reference_vit(model.state_dict(), x, 2, 4), rtol=0, atol=2e-5)


def test_drop_path_keeps_the_expectation():
    """Training-mode stochastic depth: each sample is either dropped (0) or scaled by 1/keep, so E[out] = x."""
    from vitpose_mm.models.backbones.vit import DropPath
    drop = DropPath(0.25).train()
    x = torch.randn(4000, 3, 5).abs() + 0.5
    out = drop(x)
    kept = out.flatten(1).ne(0).all(dim=1)
    dropped = out.flatten(1).eq(0).all(dim=1)
    assert bool((kept | dropped).all())  # whole samples, never single elements
    torch.testing.assert_close(out[kept], x[kept] / 0.75, rtol=1e-6, atol=0)
    assert abs(kept.float().mean().item() - 0.75) < 0.03  # 4000 samples: 3 sigma is about 0.02
    assert torch.equal(drop.eval()(x), x)
