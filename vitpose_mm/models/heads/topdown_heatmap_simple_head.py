# References: ViTPose (ViTAE-Transformer/ViTPose) mmpose/models/heads/topdown_heatmap_simple_head.py
# for the behaviour and parameter names; mmpose 1.3.2 HeatmapHead, which this class reuses.
"""ViTPose's ``TopdownHeatmapSimpleHead`` on top of mmpose 1.x ``HeatmapHead``.

The official head (mmpose 0.x) differs from mmpose 1.x ``HeatmapHead`` in two ways:

- its constructor speaks the 0.x language (``num_deconv_layers``, ``num_deconv_filters``, ``extra`` ...);
- it has an optional "simple" decoder: ReLU on the backbone feature, bilinear upsampling by ``upsample``,
  then the final conv (ViTPose-*-simple uses ``upsample=4`` and a 3x3 final conv).

Everything else (deconv stack, final conv, init, loss, accuracy, flip test, decoding) is ``HeatmapHead``'s,
and its parameter names already equal the official ones (``deconv_layers.{0,1,3,4}.*``, ``final_layer.*``),
so official checkpoints load by name.

Inside mmpose's pose estimators the head config is first rewritten by mmpose's ``check_and_update_config``:
``extra=dict(final_conv_kernel=k)`` becomes ``final_layer=dict(kernel_size=k[, padding])`` (with an "outdated
config" warning), any other ``extra`` key is dropped, and ``align_corners`` / ``input_transform`` are removed
(``input_transform=None`` is rejected there). Hence this head also takes ``final_layer``, and configs of this
project should give ``final_layer`` rather than ``extra``.
"""
from typing import Optional, Sequence, Tuple, Union

import torch.nn.functional as F
from torch import Tensor

from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS
from mmpose.utils.typing import OptConfigType

_EXTRA_KEYS = ('final_conv_kernel', 'num_conv_layers', 'num_conv_kernels')
_FINAL_CONV_PADDING = {1: 0, 3: 1}  # kernel 0 means no final conv (identity), as in the official head


@MODELS.register_module()
class TopdownHeatmapSimpleHead(HeatmapHead):
    """Top-down heatmap head of ViTPose, with the official (mmpose 0.x) arguments.

    Args:
        in_channels (int): Channels of the backbone feature.
        out_channels (int): Number of heatmaps (keypoints).
        num_deconv_layers (int): Number of [ConvTranspose2d(stride 2), BN, ReLU] stages; 0 for none.
            Defaults to 3. ViTPose's classic decoder uses 2.
        num_deconv_filters (Sequence[int]): Output channels of each deconv stage; ignored when
            ``num_deconv_layers`` is 0. Defaults to ``(256, 256, 256)``.
        num_deconv_kernels (Sequence[int]): Kernel size (2, 3 or 4) of each deconv stage; ignored when
            ``num_deconv_layers`` is 0. Defaults to ``(4, 4, 4)``.
        extra (dict, optional): ``final_conv_kernel`` (0 = identity, 1 or 3; default 1),
            ``num_conv_layers`` and ``num_conv_kernels`` (intermediate [Conv, BN, ReLU] stages before the
            final conv; default none). Other keys raise ``ValueError``. Defaults to None.
        final_layer (dict, optional): mmpose 1.x form of the final conv, e.g. ``dict(kernel_size=3, padding=1)``;
            overrides the Conv2d arguments as in ``HeatmapHead``. Give it or ``extra['final_conv_kernel']``, not
            both. Defaults to None (``extra`` decides).
        upsample (int): When > 0, the "simple" decoder: ReLU the input feature and upsample it bilinearly by
            this factor before the (de)conv layers. Defaults to 0.
        in_index (int): Which feature to use when ``feats`` is a tuple/list (mmpose 1.x backbones return
            tuples). Defaults to -1, the last one; the official default 0 selects the same tensor for
            single-output backbones such as ViT.
        input_transform (str, optional): Only ``None`` is supported (no ViTPose config uses another).
        align_corners (bool): ``align_corners`` of the bilinear upsampling. Defaults to False (as in every
            ViTPose config). mmpose's pose estimators drop this key from the head config (see above).
        loss (dict, optional): Keypoint loss config. Defaults to
            ``dict(type='KeypointMSELoss', use_target_weight=True)``.
        loss_keypoint (dict, optional): The official (0.x) name of ``loss``; give at most one of the two.
        decoder (dict, optional): Codec config used to decode heatmaps in ``predict``, e.g. ``UDPHeatmap``.
        init_cfg (dict | list[dict], optional): Initialisation; defaults to ``HeatmapHead``'s, which is the
            official one (normal std 0.001 for (de)conv weights, zero biases, BN weight 1 and bias 0).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 num_deconv_layers: int = 3,
                 num_deconv_filters: Sequence[int] = (256, 256, 256),
                 num_deconv_kernels: Sequence[int] = (4, 4, 4),
                 extra: Optional[dict] = None,
                 final_layer: Optional[dict] = None,
                 upsample: int = 0,
                 in_index: int = -1,
                 input_transform: Optional[str] = None,
                 align_corners: bool = False,
                 loss: OptConfigType = None,
                 loss_keypoint: OptConfigType = None,
                 decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        if not isinstance(in_channels, int):
            raise ValueError(f'in_channels must be an int, got {in_channels!r}')
        if input_transform is not None:
            raise ValueError(f'input_transform={input_transform!r} is not supported; only None is '
                             '(the head takes one feature map, chosen by in_index)')
        if not isinstance(in_index, int):
            raise ValueError(f'in_index must be an int, got {in_index!r}')
        if not isinstance(upsample, (int, float)) or upsample < 0:
            raise ValueError(f'upsample must be a number >= 0, got {upsample!r}')
        deconv_out_channels, deconv_kernel_sizes = _deconv_args(num_deconv_layers, num_deconv_filters,
                                                                num_deconv_kernels)
        conv_channels = deconv_out_channels[-1] if deconv_out_channels else in_channels
        if final_layer is not None and not isinstance(final_layer, dict):
            raise ValueError(f'final_layer must be a dict or None, got {type(final_layer).__name__}')
        if final_layer is not None and isinstance(extra, dict) and 'final_conv_kernel' in extra:
            raise ValueError("give the final conv as `final_layer` or as extra['final_conv_kernel'], not both")
        conv_out_channels, conv_kernel_sizes, extra_final_layer = _extra_args(extra, conv_channels)
        if final_layer is None:
            final_layer = extra_final_layer

        if loss is not None and loss_keypoint is not None:
            raise ValueError('give the keypoint loss as `loss` or as `loss_keypoint` (its mmpose 0.x name), '
                             'not both')
        loss = loss if loss is not None else loss_keypoint
        if loss is None:
            loss = dict(type='KeypointMSELoss', use_target_weight=True)
        elif loss.get('type') == 'JointsMSELoss':
            raise ValueError("mmpose 1.x renamed the loss 'JointsMSELoss' to 'KeypointMSELoss'; "
                             'use the new name')

        super().__init__(
            in_channels=in_channels,
            out_channels=out_channels,
            deconv_out_channels=deconv_out_channels,
            deconv_kernel_sizes=deconv_kernel_sizes,
            conv_out_channels=conv_out_channels,
            conv_kernel_sizes=conv_kernel_sizes,
            final_layer=final_layer,
            loss=loss,
            decoder=decoder,
            init_cfg=init_cfg)
        self.upsample = upsample
        self.in_index = in_index
        self.align_corners = align_corners

    def forward(self, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Compute heatmaps.

        Args:
            feats (Tensor | Sequence[Tensor]): The backbone feature (B, C, h, w), or the backbone's
                tuple of features, of which ``feats[in_index]`` is used.

        Returns:
            Tensor: Heatmaps of shape (B, out_channels, H, W).
        """
        x = feats if isinstance(feats, Tensor) else feats[self.in_index]
        if self.upsample > 0:
            # The official head applies this ReLU only on the upsampling path (the simple decoder).
            x = F.interpolate(F.relu(x), scale_factor=self.upsample, mode='bilinear',
                              align_corners=self.align_corners)
        x = self.deconv_layers(x)
        x = self.conv_layers(x)
        return self.final_layer(x)


def _deconv_args(num_layers: int, filters: Sequence[int],
                 kernels: Sequence[int]) -> Tuple[Optional[Tuple[int, ...]], Optional[Tuple[int, ...]]]:
    """Translate the official deconv arguments into ``HeatmapHead``'s (None = no deconv layers)."""
    if not isinstance(num_layers, int) or num_layers < 0:
        raise ValueError(f'num_deconv_layers must be an int >= 0, got {num_layers!r}')
    if num_layers == 0:
        return None, None  # the official head ignores the filter/kernel lists here too
    if len(filters) != num_layers:
        raise ValueError(f'num_deconv_filters has {len(filters)} entries but num_deconv_layers is '
                         f'{num_layers}')
    if len(kernels) != num_layers:
        raise ValueError(f'num_deconv_kernels has {len(kernels)} entries but num_deconv_layers is '
                         f'{num_layers}')
    return tuple(filters), tuple(kernels)


def _extra_args(extra: Optional[dict],
                conv_channels: int) -> Tuple[Optional[Tuple[int, ...]], Optional[Tuple[int, ...]], Optional[dict]]:
    """Translate the official ``extra`` dict into ``HeatmapHead``'s conv and final-layer arguments."""
    extra = {} if extra is None else extra
    if not isinstance(extra, dict):
        raise ValueError(f'extra must be a dict or None, got {type(extra).__name__}')
    unknown = sorted(set(extra) - set(_EXTRA_KEYS))
    if unknown:
        raise ValueError(f'extra has unknown keys {unknown}; accepted keys: {list(_EXTRA_KEYS)}')

    kernel = extra.get('final_conv_kernel', 1)
    if kernel not in (0, *_FINAL_CONV_PADDING):
        raise ValueError(f"extra['final_conv_kernel'] must be 0, 1 or 3, got {kernel!r}")
    num_convs = extra.get('num_conv_layers', 0)
    if not isinstance(num_convs, int) or num_convs < 0:
        raise ValueError(f"extra['num_conv_layers'] must be an int >= 0, got {num_convs!r}")
    conv_kernels = tuple(extra.get('num_conv_kernels', (1, ) * num_convs))
    if len(conv_kernels) != num_convs:
        raise ValueError(f"extra['num_conv_kernels'] has {len(conv_kernels)} entries but "
                         f"extra['num_conv_layers'] is {num_convs}")
    if kernel == 0 and num_convs:
        # The official head silently drops the conv layers in this case.
        raise ValueError("extra['num_conv_layers'] needs a final conv; got extra['final_conv_kernel'] = 0")

    final_layer = None if kernel == 0 else dict(kernel_size=kernel, padding=_FINAL_CONV_PADDING[kernel])
    if not num_convs:
        return None, None, final_layer
    # HeatmapHead's load-state-dict hook renames the official `final_layer.{i}.*` keys of these layers
    # to `conv_layers.{i}.*`.
    return (conv_channels, ) * num_convs, conv_kernels, final_layer
