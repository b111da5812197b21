"""Random weights that make every tensor matter (shared by the main tests and tests/hf_reference.py in .venv-hf).

Fresh models have zero biases, unit norms, zero BN statistics and tiny head weights: a conversion that mixed up any of
those would still compare equal. Here every float tensor gets seeded random values of a scale that keeps activations
of order one: matrices ~ N(0, 1/fan_in), norm and BN weights ~ 1 + N(0, 0.2), biases and BN means ~ N(0, 0.1),
BN variances ~ U(0.5, 1.5), position embeddings ~ N(0, 0.5) (so that ViTPose's class row, added to every patch,
moves the output).
"""
import torch


def randomize_(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in sorted(module.state_dict(keep_vars=True).items()):
            if not t.is_floating_point():
                continue
            if name.endswith('running_var'):
                new = torch.rand(t.shape, generator=g) + 0.5
            elif 'pos' in name and t.dim() == 3:
                new = torch.randn(t.shape, generator=g) * 0.5
            elif t.dim() >= 2:
                new = torch.randn(t.shape, generator=g) / t[0].numel() ** 0.5
            elif name.endswith('weight'):
                new = 1 + 0.2 * torch.randn(t.shape, generator=g)
            else:
                new = 0.1 * torch.randn(t.shape, generator=g)
            t.copy_(new.to(t.dtype))
    return module


def formula_tensor(name: str, shape, kind: str) -> torch.Tensor:
    """A tensor that depends only on its name and shape (no RNG): the same on every machine and torch version.

    Used for the committed HF reference fixture (tests/fixtures/hf_reference.npz): HF's side and ours compute the
    same weights from the key names, so only HF's outputs need to be stored. ``kind`` picks the scale as in
    :func:`randomize_` ('var', 'pos', 'matrix', 'weight' or 'bias').
    """
    import zlib
    n = 1
    for s in shape:
        n *= int(s)
    phase = (zlib.crc32(name.encode()) % 10007) / 10007 * 6.283185307179586
    i = torch.arange(n, dtype=torch.float64)
    wave = torch.sin(i * 0.7548776662466927 + phase) * torch.cos(i * 0.5698402909980532 + 2 * phase)  # in [-1, 1]
    fan_in = n // int(shape[0]) if len(shape) >= 2 else 1
    scale = {'var': None, 'pos': 0.8, 'matrix': 1.7 / max(fan_in, 1) ** 0.5, 'weight': 0.3, 'bias': 0.15}[kind]
    if kind == 'var':
        t = 1.0 + 0.5 * wave
    elif kind == 'weight':
        t = 1.0 + scale * wave
    else:
        t = scale * wave
    return t.reshape(tuple(int(s) for s in shape)).float()


def tensor_kind(name: str, shape) -> str:
    """The :func:`formula_tensor` kind of a state-dict entry, from its name and shape (any layout)."""
    if name.endswith('running_var'):
        return 'var'
    if ('pos' in name or 'position' in name) and len(shape) == 3:
        return 'pos'
    if len(shape) >= 2:
        return 'matrix'
    return 'weight' if name.endswith('weight') else 'bias'


def formula_state_dict(shapes: dict) -> dict:
    """``{name: shape}`` -> ``{name: formula_tensor}`` for every float entry (the fixture's weights)."""
    return {k: formula_tensor(k, s, tensor_kind(k, s)) for k, s in shapes.items()}
