"""vitpose_mm.analysis: the counted training-step memory and FLOPs of a model small enough to count by hand."""
import torch
import torch.nn as nn

from vitpose_mm.analysis import inference_throughput, training_step_cost


class OneConv(nn.Module):
    """A 'pose model' whose features are a 1x1 conv of the image and whose head returns them unchanged."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1, bias=False)
        self.head = nn.Identity()

    def extract_feat(self, x):
        return self.conv(x)


def test_training_step_cost_of_a_1x1_conv():
    B, H, W = 2, 8, 6
    cost = training_step_cost(OneConv(), (H, W), B)
    macs = B * H * W * 3 * 4
    assert cost.flops == 2 * macs * 2  # forward, and the weight gradient (the image needs none)
    # saved for backward: the image (by the conv), the prediction and the target (by the MSE loss), float32
    assert cost.activation_bytes == 4 * B * H * W * (3 + 4 + 4)
    assert cost.memory_bytes == cost.activation_bytes + 4 * 12 * 4  # weight, gradient, two AdamW states
    assert inference_throughput(OneConv(), (H, W), B, iters=2) > 0
