# References: ViTPose's classic decoder (ViTAE-Transformer/ViTPose mmpose/models/heads/topdown_heatmap_simple_head.py:
# two [ConvTranspose2d 4x4 stride 2, BN, ReLU] stages) and mmpose 1.3.2 HeatmapHead._make_deconv_layers, reused here.
"""ViTPose's classic decoder without its final convolution, as a neck that upsamples the ViT's 1/16 feature map.

mmpose's bottom-up heads (``DEKRHead``, ``CIDHead``, ``AssociativeEmbeddingHead`` without deconvs) predict at 1/4
of the input, from a 1/4 feature map (HRNet's). A plain ViT gives one 1/16 map. This neck brings it to 1/4 with the
stages of ViTPose's classic decoder (ViTPose paper, section 3.1: "two deconvolution blocks, each of which contains
one deconvolution layer followed by batch normalization and ReLU"), so the head sees what ViTPose's own final 1x1
convolution would see. The stages are mmpose ``HeatmapHead``'s (its ``_make_deconv_layers``) and carry the same
parameter names (``deconv_layers.{0,1,3,4}``) as the top-down head's.
"""
from typing import Optional, Sequence, Tuple

from mmengine.model import BaseModule
from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class DeconvUpsampleNeck(BaseModule):
    """Upsample one feature map by 2 per [ConvTranspose2d(stride 2), BN, ReLU] stage.

    Args:
        in_channels: channels of the input map (the ViT's ``embed_dim``).
        out_channels: output channels of each stage; ``(256, 256)`` is ViTPose's classic decoder (1/16 -> 1/4).
        kernel_sizes: kernel size (2, 3 or 4) of each stage, same length; ``(4, 4)`` is ViTPose's.
        in_index: which map of the input tuple to upsample (-1: the last; the ViT gives one).
        init_cfg: defaults to ``HeatmapHead``'s (normal std 0.001 for the deconvs, BN weight 1).

    Shapes: ``feats[in_index]`` (B, in_channels, H, W) -> a one-map tuple (B, out_channels[-1], H * 2**n, W * 2**n)
    with n = ``len(out_channels)``.

    Raises:
        ValueError: ``out_channels`` is empty or ``kernel_sizes`` has another length; a kernel size not in 2, 3, 4
            (from ``HeatmapHead``).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: Sequence[int] = (256, 256),
                 kernel_sizes: Sequence[int] = (4, 4),
                 in_index: int = -1,
                 init_cfg: Optional[dict] = None):
        if init_cfg is None:
            init_cfg = [dict(type='Normal', layer=['ConvTranspose2d'], std=0.001),
                        dict(type='Constant', layer='BatchNorm2d', val=1)]
        super().__init__(init_cfg=init_cfg)
        out_channels, kernel_sizes = tuple(out_channels), tuple(kernel_sizes)
        if not out_channels or len(out_channels) != len(kernel_sizes):
            raise ValueError(f'out_channels={out_channels} and kernel_sizes={kernel_sizes} must be non-empty and of '
                             'the same length (one entry per deconv stage)')
        self.in_channels = in_channels
        self.out_channels = out_channels[-1]
        self.in_index = in_index
        # HeatmapHead's builder reads nothing of `self` but its class name (for the error of a bad kernel size)
        self.deconv_layers = HeatmapHead._make_deconv_layers(self, in_channels, out_channels, kernel_sizes)

    def forward(self, feats: Tuple[Tensor, ...]) -> Tuple[Tensor]:
        x = feats[self.in_index] if isinstance(feats, (tuple, list)) else feats
        return (self.deconv_layers(x), )
