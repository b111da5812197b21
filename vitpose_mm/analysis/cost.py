"""What a pose model costs: training-step memory and FLOPs, inference images per second (docs/attention.md).

Memory on a CUDA device is the allocator's peak (``torch.cuda.max_memory_allocated``). The CPU has no such counter,
so there it is counted: parameters, gradients and AdamW's two states, plus every tensor autograd saves for the
backward pass (deduplicated by storage), which is what the attention type changes.
FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (matrix products, convolutions and attention
kernels; two FLOPs per multiply-add), for the forward and backward pass of one step.
"""
import time
from dataclasses import dataclass
from typing import Dict, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode


@dataclass
class StepCost:
    """One training step: ``memory_bytes`` (peak on CUDA; counted on the CPU, see the module docstring),
    ``activation_bytes`` (tensors saved for backward; CPU count, 0 on CUDA) and ``flops`` (forward + backward)."""
    memory_bytes: int
    activation_bytes: int
    flops: int


def _heatmaps(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, K, h, w) heatmaps of an mmpose ``TopdownPoseEstimator`` (backbone, neck, head)."""
    return model.head.forward(model.extract_feat(images))


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor, target: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    F.mse_loss(_heatmaps(model, images), target).backward()
    optimizer.step()


def training_step_cost(model: nn.Module, input_hw: Tuple[int, int], batch: int, device: str = 'cpu') -> StepCost:
    """Memory and FLOPs of one AdamW training step of ``model`` on ``batch`` random (3, H, W) images and random
    heatmap targets. The model is moved to ``device`` and put in train mode."""
    model = model.to(device).train()
    images = torch.randn(batch, 3, *input_hw, device=device)
    with torch.no_grad():
        target = torch.rand_like(_heatmaps(model.eval(), images[:1])).expand(batch, -1, -1, -1).contiguous()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    with FlopCounterMode(display=False) as counter:
        optimizer.zero_grad(set_to_none=True)
        F.mse_loss(_heatmaps(model, images), target).backward()
    flops = counter.get_total_flops()
    if device.startswith('cuda'):
        _step(model, optimizer, images, target)  # AdamW states exist from here on
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        _step(model, optimizer, images, target)
        torch.cuda.synchronize()
        return StepCost(torch.cuda.max_memory_allocated(), 0, flops)
    own = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: Dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in own:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        _step(model, optimizer, images, target)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    trained = sum(p.numel() * p.element_size() for p in params)
    activations = sum(saved.values())
    return StepCost(weights + 3 * trained + activations, activations, flops)


def inference_throughput(model: nn.Module, input_hw: Tuple[int, int], batch: int, iters: int, device: str = 'cpu',
                         warmup: int = 1) -> float:
    """Images per second of the heatmap forward pass (no flip test) on random (batch, 3, H, W) inputs."""
    model = model.to(device).eval()
    images = torch.randn(batch, 3, *input_hw, device=device)
    with torch.no_grad():
        for _ in range(warmup):
            _heatmaps(model, images)
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(iters):
            _heatmaps(model, images)
        if device.startswith('cuda'):
            torch.cuda.synchronize()
    return batch * iters / (time.perf_counter() - start)


__all__ = ['StepCost', 'training_step_cost', 'inference_throughput']
