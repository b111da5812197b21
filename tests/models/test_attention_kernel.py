"""The one attention kernel (``vitpose_mm.models.layers.attention.attend``) and attention dropout, both paths.

Written for the survivors of a mutation run over ``models/layers`` (docs/mutation.md): a scale that is not
1/sqrt(head_dim) must reach the fused path too, the default is no dropout, and attention dropout acts only in
training and with the given rate."""
import pytest
import torch

from vitpose_mm.models.layers.attention import Attention, attend


def reference(q, k, v, scale, bias=None):
    logits = torch.einsum('...ld,...sd->...ls', q, k) * scale
    if bias is not None:
        logits = logits + bias
    return torch.einsum('...ls,...sd->...ld', logits.softmax(-1), v)


@pytest.mark.parametrize('fused', [True, False])
def test_attend_uses_the_given_scale_and_no_dropout_by_default(fused):
    q, k, v = torch.randn(3, 2, 2, 7, 8).unbind(0)
    bias = torch.randn(7, 7)
    for scale in (8 ** -0.5, 0.9):  # the default scale of head_dim 8, and another one (qk_scale)
        torch.testing.assert_close(attend(q, k, v, scale, fused), reference(q, k, v, scale))
        torch.testing.assert_close(attend(q, k, v, scale, fused, bias=bias), reference(q, k, v, scale, bias))
    assert not torch.allclose(reference(q, k, v, 0.9), reference(q, k, v, 8 ** -0.5), atol=1e-3)


@pytest.mark.parametrize('fused', [True, False])
def test_attention_dropout_only_in_training_and_at_its_rate(fused):
    torch.manual_seed(0)
    attn = Attention(32, num_heads=4, attn_drop=0.5, fused_attn=fused)
    x = torch.randn(2, 10, 32)
    attn.eval()
    clean = attn(x)
    torch.testing.assert_close(attn(x), clean)  # eval: deterministic, no dropout
    attn.train()
    torch.manual_seed(0)
    dropped = attn(x)
    assert (dropped - clean).abs().max() > 1e-2  # training: attention weights dropped
    # inverted dropout keeps the expectation: the mean of many dropped outputs approaches the clean one
    mean = torch.stack([attn(x) for _ in range(100)]).mean(0)
    assert (mean - clean).abs().mean() < 0.25 * (dropped - clean).abs().mean()
    attn.attn_drop.p = 0.
    torch.testing.assert_close(attn(x), clean)  # rate 0 in training: nothing dropped
