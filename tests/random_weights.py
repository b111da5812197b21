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
