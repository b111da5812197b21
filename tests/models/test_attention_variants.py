"""Window, shifted-window and pooling-window attention (the ViTPose paper's attention-type ablation) against
references built by hand."""
import itertools

import pytest
import torch

from vitpose_mm.models.layers import Attention, WindowAttention, attend, shifted_window_groups

DIM, HEADS = 16, 2


def swin_allowed(hw, window, shift):
    """(N, N) bool over the real tokens of an (H, W) grid, built as Swin does it: pad, roll by -shift, cut into
    windows, label the three row and three column slices of the rolled grid; a pair may attend iff same window and
    same label. Written independently of the package (loops over positions)."""
    (H, W), (wh, ww), (sh, sw) = hw, window, shift
    Hp, Wp = -(-H // wh) * wh, -(-W // ww) * ww

    def label(r, size, w, s):  # Swin's slices (0, -w), (-w, -s), (-s, None) of the rolled axis
        if s == 0:
            return 0
        return 0 if r < size - w else (1 if r < size - s else 2)

    def key(r, c):
        rr, cc = (r - sh) % Hp, (c - sw) % Wp  # position in the rolled grid
        return rr // wh, cc // ww, label(rr, Hp, wh, sh), label(cc, Wp, ww, sw)

    pos = [(r, c) for r in range(H) for c in range(W)]
    return torch.tensor([[key(*p) == key(*q) for q in pos] for p in pos])


def window_means(x, hw, window):
    """(B, N, C) -> (B, nW, C): mean of the real tokens of each unshifted window, row-major windows (loops)."""
    (H, W), (wh, ww) = hw, window
    grid = x.reshape(x.shape[0], H, W, -1)
    return torch.stack([grid[:, r:r + wh, c:c + ww].mean(dim=(1, 2)) for r in range(0, H, wh)
                        for c in range(0, W, ww)], dim=1)


def reference(layer, x, hw, allowed, pool_tokens=None):
    """Full attention of ``layer``'s projections over the real tokens (+ pooled tokens as keys), masked by
    ``allowed`` (N_patch, N_patch); extra tokens (N > H * W) are keys of every query and attend to every token
    (not to the pooled ones)."""
    B, N, _ = x.shape
    n = hw[0] * hw[1]
    q, k, v = layer._qkv(x)
    ok = torch.ones(N, N, dtype=torch.bool)
    ok[:n, :n] = allowed
    if pool_tokens is not None:
        _, kp, vp = layer._qkv(pool_tokens)
        k, v = torch.cat([k, kp], dim=2), torch.cat([v, vp], dim=2)
        pooled_ok = torch.zeros(N, kp.shape[2], dtype=torch.bool)
        pooled_ok[:n] = True  # pooled tokens are keys of the patch queries; extra tokens see the tokens themselves
        ok = torch.cat([ok, pooled_ok], dim=1)
    bias = torch.zeros(ok.shape).masked_fill(~ok, float('-inf'))
    return layer._out(attend(q, k, v, layer.scale, False, 0., bias))


def pair(attn_kw, fused=True, **win):
    torch.manual_seed(1)
    full = Attention(DIM, HEADS, qkv_bias=True, fused_attn=fused)
    layer = WindowAttention(DIM, HEADS, qkv_bias=True, fused_attn=fused, **win)
    missing = layer.load_state_dict(full.state_dict(), strict=False).missing_keys
    assert missing == [], missing  # rel_pos tables are filled by the load hook
    return full.eval(), layer.eval()


@pytest.mark.parametrize('fused', [True, False])
def test_window_covering_the_whole_grid_is_full_attention(fused):
    full, layer = pair(None, fused, window_size=(5, 7))
    x = torch.randn(2, 35, DIM)
    torch.testing.assert_close(layer(x, (5, 7)), full(x), atol=1e-6, rtol=1e-6)


def test_shifted_groups_match_swins_slice_mask_on_an_odd_grid():
    for hw, window, shift in [((5, 7), (2, 3), (1, 1)), ((7, 5), (4, 2), (2, 1)), ((5, 7), (3, 3), (0, 1))]:
        Hp, Wp = -(-hw[0] // window[0]) * window[0], -(-hw[1] // window[1]) * window[1]
        groups = shifted_window_groups(hw, (Hp, Wp), window, shift)[:hw[0], :hw[1]].reshape(-1)
        assert (groups >= 0).all()
        torch.testing.assert_close(groups[:, None] == groups[None, :], swin_allowed(hw, window, shift))


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('hw,window,shift', [((5, 7), (2, 3), (1, 1)), ((6, 6), (3, 3), (1, 1)),
                                              ((5, 7), (2, 3), (0, 0)), ((6, 6), (3, 2), (0, 0)),
                                              ((7, 5), (4, 2), (2, 1))])
def test_window_and_shifted_window_attention_equal_masked_full_attention(fused, hw, window, shift):
    """Odd grids need padding; shift (0, 0) must be plain windows; padded keys never reach a real token; a shift
    that differs between rows and columns rolls each axis by its own amount."""
    _, layer = pair(None, fused, window_size=window, shift_size=shift)
    x = torch.randn(2, hw[0] * hw[1], DIM)
    allowed = swin_allowed(hw, window, shift)
    ref = reference(layer, x, hw, allowed)
    torch.testing.assert_close(layer(x, hw), ref, atol=1e-5, rtol=1e-5)
    # the window restriction matters: full attention differs
    assert not torch.allclose(reference(layer, x, hw, torch.ones_like(allowed)), ref, atol=1e-3)


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('hw,window,shift', [((6, 6), (3, 2), (0, 0)), ((6, 6), (3, 2), (1, 1))])
def test_pooling_windows_append_the_window_means(fused, hw, window, shift):
    _, layer = pair(None, fused, window_size=window, shift_size=shift, pool=True)
    x = torch.randn(2, hw[0] * hw[1], DIM)
    means = window_means(x, hw, window)
    assert means.shape == (2, 6, DIM)
    ref = reference(layer, x, hw, swin_allowed(hw, window, shift), pool_tokens=means)
    torch.testing.assert_close(layer(x, hw), ref, atol=1e-5, rtol=1e-5)
    no_pool = WindowAttention(DIM, HEADS, qkv_bias=True, window_size=window, shift_size=shift).eval()
    no_pool.load_state_dict(layer.state_dict())
    assert not torch.allclose(no_pool(x, hw), ref, atol=1e-3)


def test_pooling_on_a_padded_grid_averages_only_real_tokens():
    hw, window = (5, 7), (2, 3)  # windows of 6, 3, 4, 2 ... real tokens
    _, layer = pair(None, True, window_size=window, pool=True)
    x = torch.randn(1, 35, DIM)
    means = window_means(x, hw, window)  # slicing clips the last windows: means of real tokens only
    ref = reference(layer, x, hw, swin_allowed(hw, window, (0, 0)), pool_tokens=means)
    torch.testing.assert_close(layer(x, hw), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('fused', [True, False])
def test_extra_tokens_are_keys_of_every_window_and_see_every_token(fused):
    hw, window = (4, 6), (2, 3)
    _, layer = pair(None, fused, window_size=window, shift_size=(1, 1), pool=True)
    x = torch.randn(2, 24 + 3, DIM)
    means = window_means(x[:, :24], hw, window)
    ref = reference(layer, x, hw, swin_allowed(hw, window, (1, 1)), pool_tokens=means)
    torch.testing.assert_close(layer(x, hw), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('hw', [(4, 6), (5, 7)])
def test_relative_position_is_vitdets_decomposed_bias(fused, hw):
    """(5, 7) is padded to (6, 9): the relative-position bias and the padding mask add up."""
    window = (2, 3)
    n = hw[0] * hw[1]
    _, layer = pair(None, fused, window_size=window, use_rel_pos=True)
    assert layer.rel_pos_h.shape == (3, DIM // HEADS) and layer.rel_pos_w.shape == (5, DIM // HEADS)
    assert layer.rel_pos_h.abs().sum() == 0  # zero init: plain weights give plain windows
    with torch.no_grad():
        layer.rel_pos_h.normal_()
        layer.rel_pos_w.normal_()
    x = torch.randn(1, n, DIM)
    q, k, v = layer._qkv(x)  # (1, h, N, d)
    pos = [(r, c) for r in range(hw[0]) for c in range(hw[1])]
    bias = torch.full((HEADS, n, n), float('-inf'))
    for (i, (r1, c1)), (j, (r2, c2)) in itertools.product(enumerate(pos), repeat=2):
        if (r1 // 2, c1 // 3) == (r2 // 2, c2 // 3):
            rh = layer.rel_pos_h[(r1 % 2) - (r2 % 2) + 1]
            rw = layer.rel_pos_w[(c1 % 3) - (c2 % 3) + 2]
            bias[:, i, j] = q[0, :, i] @ rh + q[0, :, i] @ rw
    ref = layer._out(attend(q, k, v, layer.scale, False, 0., bias[None]))
    torch.testing.assert_close(layer(x, hw), ref, atol=1e-5, rtol=1e-5)


def test_fused_and_written_out_agree_with_everything_on():
    hw = (5, 7)
    a = WindowAttention(DIM, HEADS, qkv_bias=True, window_size=(2, 3), shift_size=(1, 1), pool=True,
                        use_rel_pos=True).eval()
    with torch.no_grad():
        a.rel_pos_h.normal_()
        a.rel_pos_w.normal_()
    b = WindowAttention(DIM, HEADS, qkv_bias=True, window_size=(2, 3), shift_size=(1, 1), pool=True,
                        use_rel_pos=True, fused_attn=False).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 35 + 2, DIM)
    out = a(x, hw)
    assert out.isfinite().all() and out.abs().mean() > 0.01
    torch.testing.assert_close(out, b(x, hw), atol=1e-5, rtol=1e-5)


def test_window_attention_errors_name_the_argument():
    with pytest.raises(ValueError, match='window_size'):
        WindowAttention(DIM, HEADS, window_size=0)
    with pytest.raises(ValueError, match='shift_size'):
        WindowAttention(DIM, HEADS, window_size=4, shift_size=4)
    with pytest.raises(ValueError, match='hw='):
        WindowAttention(DIM, HEADS, window_size=4)(torch.randn(1, 16, DIM))
    with pytest.raises(ValueError, match='15 tokens.*4x4'):
        WindowAttention(DIM, HEADS, window_size=4)(torch.randn(1, 15, DIM), (4, 4))


def test_window_attention_keeps_the_attention_arguments_and_a_window_of_one():
    """qk_scale and attn_head_dim reach the attention (a window block of a checkpoint with its own head size); a 1x1
    window is each token attending to itself: the projection of its own value."""
    layer = WindowAttention(DIM, HEADS, qk_scale=0.3, attn_head_dim=4, window_size=2)
    assert layer.scale == 0.3 and layer.qkv.out_features == 3 * HEADS * 4 and layer.proj.in_features == HEADS * 4
    layer = WindowAttention(DIM, HEADS, qkv_bias=True, window_size=1).eval()
    x = torch.randn(1, 12, DIM)
    _, _, v = layer._qkv(x)
    torch.testing.assert_close(layer(x, (3, 4)), layer._out(v))


def test_loading_a_window_block_reports_missing_and_surplus_keys():
    layer = WindowAttention(DIM, HEADS, qkv_bias=True, window_size=2, use_rel_pos=True)
    sd = {k: v for k, v in Attention(DIM, HEADS, qkv_bias=True).state_dict().items() if k != 'proj.bias'}
    result = layer.load_state_dict({**sd, 'surplus': torch.zeros(1)}, strict=False)
    assert result.missing_keys == ['proj.bias'] and result.unexpected_keys == ['surplus']  # rel_pos: filled, zeros
    with pytest.raises(RuntimeError, match='proj.bias'):
        layer.load_state_dict(sd)
