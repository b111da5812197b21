# References: ViTPose (ViTAE-Transformer/ViTPose) mmpose/models/heads/topdown_heatmap_simple_head.py
# for the behaviour and parameter names; mmpose 1.3.2 HeatmapHead, which this class reuses.
"""ViTPose's ``TopdownHeatmapSimpleHead`` on top of mmpose 1.x ``HeatmapHead``.

The official head (mmpose 0.x) differs from mmpose 1.x ``HeatmapHead`` in two ways:

- its constructor speaks the 0.x language (``num_deconv_layers``, ``num_deconv_filters``, ``extra`` ...); this
  class takes those and every ``HeatmapHead`` argument with ``HeatmapHead``'s meaning (one language per part);
- it has an optional "simple" decoder: ReLU on the backbone feature, bilinear upsampling by ``upsample``,
  then the final conv (ViTPose-*-simple uses ``upsample=4`` and a 3x3 final conv).

Everything else (deconv stack, final conv, init, loss, accuracy, decoding) is ``HeatmapHead``'s (the flip test
too, but with both views in one batch),
and its parameter names already equal the official ones (``deconv_layers.{0,1,3,4}.*``, ``final_layer.*``),
so official checkpoints load by name.

Inside mmpose's pose estimators the head config is first rewritten by mmpose's ``check_and_update_config``:
``extra=dict(final_conv_kernel=k)`` becomes ``final_layer=dict(kernel_size=k[, padding])`` (with an "outdated
config" warning), any other ``extra`` key is dropped, and ``align_corners`` / ``input_transform`` are removed
(``input_transform=None`` is rejected there). Hence this head also takes ``final_layer``, and configs of this
project should give ``final_layer`` rather than ``extra``.
"""
import inspect
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmengine.structures import PixelData
from mmpose.models.heads import HeatmapHead
from mmpose.models.utils.tta import flip_heatmaps
from mmpose.registry import MODELS
from vitpose_mm.models.strict_loading import refuse_missing_weights
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList

_EXTRA_KEYS = ('final_conv_kernel', 'num_conv_layers', 'num_conv_kernels')
_FINAL_CONV_PADDING = {1: 0, 3: 1}  # kernel 0 means no final conv (identity), as in the official head


class _NotGiven:
    """Default of the arguments whose mmpose 1.x and 0.x spellings may not be mixed (None has a meaning there)."""

    def __repr__(self) -> str:
        return '<not given>'


NOT_GIVEN: Any = _NotGiven()


@MODELS.register_module()
class TopdownHeatmapSimpleHead(HeatmapHead):
    """Top-down heatmap head of ViTPose: mmpose 1.x ``HeatmapHead`` with its own arguments and the official 0.x ones.

    Every ``HeatmapHead`` argument has ``HeatmapHead``'s meaning, so a 1.x config that only changes the head type
    builds the same module; the official (mmpose 0.x) arguments build the official head. A thing may be named
    in one language only: giving both the 0.x and the 1.x name of the deconv layers, the intermediate conv
    layers, the final layer or the loss is a ``ValueError`` naming both. Unknown arguments are a ``ValueError``
    listing the accepted ones.

    mmpose 1.x (``HeatmapHead``) arguments:
        in_channels (int): Channels of the backbone feature.
        out_channels (int): Number of heatmaps (keypoints).
        deconv_out_channels (Sequence[int] | None): Output channels of each [ConvTranspose2d(stride 2), BN, ReLU]
            stage; None or empty for none. Default (when no deconv argument is given) ``(256, 256, 256)``.
        deconv_kernel_sizes (Sequence[int] | None): Kernel size (2, 3 or 4) of each deconv stage, same length.
            Default ``(4, 4, 4)``.
        conv_out_channels (Sequence[int] | None): Output channels of each intermediate [Conv, BN, ReLU] stage
            before the final layer. Default none.
        conv_kernel_sizes (Sequence[int] | None): Their kernel sizes, same length.
        final_layer (dict | None): Conv2d arguments of the final layer (over ``kernel_size=1``); **None means no
            final layer** (the output of the last stage is the heatmaps). Default ``dict(kernel_size=1)``.
        has_final_layer (bool): mmpose's older spelling, which mmpose's estimators rewrite before the head is
            built: False is ``final_layer=None``, True changes nothing.
        loss (dict): Keypoint loss. Default ``dict(type='KeypointMSELoss', use_target_weight=True)``.
        decoder (dict, optional): Codec used to decode heatmaps in ``predict``, e.g. ``UDPHeatmap``.
        init_cfg (dict | list[dict], optional): Initialisation; defaults to ``HeatmapHead``'s, which is the
            official one (normal std 0.001 for (de)conv weights, zero biases, BN weight 1 and bias 0).

    Official ViTPose (mmpose 0.x) arguments:
        num_deconv_layers (int): Number of deconv stages; 0 for none. ViTPose's classic decoder uses 2.
        num_deconv_filters (Sequence[int]): Output channels of each deconv stage; ignored when
            ``num_deconv_layers`` is 0.
        num_deconv_kernels (Sequence[int]): Kernel size of each deconv stage; ignored when ``num_deconv_layers``
            is 0.
        extra (dict, optional): ``final_conv_kernel`` (0 = no final conv, 1 or 3; default 1),
            ``num_conv_layers`` and ``num_conv_kernels`` (intermediate [Conv, BN, ReLU] stages as wide as their
            input). Other keys raise ``ValueError``.
        upsample (int): When > 0, the "simple" decoder: ReLU the input feature and upsample it bilinearly by
            this factor before the (de)conv layers. Defaults to 0. (mmpose 1.x puts this in a
            ``FeatureMapProcessor`` neck; this head keeps it, so official checkpoints load as they are.)
        in_index (int): Which feature to use when ``feats`` is a tuple/list. Defaults to -1, the last one (the
            official default 0 selects the same tensor for single-output backbones such as ViT).
        input_transform (str, optional): Only ``None`` is supported (no ViTPose config uses another).
        align_corners (bool): ``align_corners`` of the bilinear upsampling. Defaults to False (as in every
            ViTPose config). mmpose's pose estimators drop this key from the head config.
        loss_keypoint (dict, optional): The official name of ``loss``.

    Raises:
        ValueError: an unknown argument, a 0.x and a 1.x name of the same thing, or an invalid value.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 deconv_out_channels: Optional[Sequence[int]] = NOT_GIVEN,
                 deconv_kernel_sizes: Optional[Sequence[int]] = NOT_GIVEN,
                 conv_out_channels: Optional[Sequence[int]] = NOT_GIVEN,
                 conv_kernel_sizes: Optional[Sequence[int]] = NOT_GIVEN,
                 final_layer: Optional[dict] = NOT_GIVEN,
                 has_final_layer: bool = NOT_GIVEN,
                 loss: OptConfigType = None,
                 decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None,
                 num_deconv_layers: int = NOT_GIVEN,
                 num_deconv_filters: Sequence[int] = NOT_GIVEN,
                 num_deconv_kernels: Sequence[int] = NOT_GIVEN,
                 extra: Optional[dict] = None,
                 upsample: int = 0,
                 in_index: int = -1,
                 input_transform: Optional[str] = None,
                 align_corners: bool = False,
                 loss_keypoint: OptConfigType = None,
                 **unknown: Any) -> None:
        if unknown:
            accepted = [n for n, p in inspect.signature(type(self).__init__).parameters.items()
                        if n != 'self' and p.kind == p.POSITIONAL_OR_KEYWORD]
            raise ValueError(f'{type(self).__name__} got unknown argument(s) {sorted(unknown)}; accepted: {accepted}')
        if not isinstance(in_channels, int):
            raise ValueError(f'in_channels must be an int, got {in_channels!r}')
        if input_transform is not None:
            raise ValueError(f'input_transform={input_transform!r} is not supported; only None is '
                             '(the head takes one feature map, chosen by in_index)')
        if not isinstance(in_index, int):
            raise ValueError(f'in_index must be an int, got {in_index!r}')
        if not isinstance(upsample, (int, float)) or upsample < 0:
            raise ValueError(f'upsample must be a number >= 0, got {upsample!r}')
        extra = _check_extra(extra)

        deconv_1x = dict(deconv_out_channels=deconv_out_channels, deconv_kernel_sizes=deconv_kernel_sizes)
        deconv_0x = dict(num_deconv_layers=num_deconv_layers, num_deconv_filters=num_deconv_filters,
                         num_deconv_kernels=num_deconv_kernels)
        if _given(deconv_0x):
            _not_both(deconv_0x, deconv_1x)
            deconv_out_channels, deconv_kernel_sizes = _deconv_args(**_or_default(deconv_0x, DECONV_0X_DEFAULTS))
        else:
            deconv_out_channels, deconv_kernel_sizes = _or_default(deconv_1x, DECONV_1X_DEFAULTS).values()

        conv_1x = dict(conv_out_channels=conv_out_channels, conv_kernel_sizes=conv_kernel_sizes)
        conv_0x = {f"extra['{k}']": extra[k] for k in ('num_conv_layers', 'num_conv_kernels') if k in extra}
        if conv_0x:
            _not_both(conv_0x, conv_1x)
            conv_channels = deconv_out_channels[-1] if deconv_out_channels else in_channels
            conv_out_channels, conv_kernel_sizes = _conv_args(extra, conv_channels)
        else:
            conv_out_channels, conv_kernel_sizes = _or_default(conv_1x, dict.fromkeys(conv_1x)).values()

        final_layer = _final_layer_args(final_layer, has_final_layer, extra)

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
        refuse_missing_weights(self)  # whichever runner loads it (models/strict_loading.py)
        self.upsample = upsample
        self.in_index = in_index
        self.align_corners = align_corners

    def forward(self, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Compute heatmaps.

        Args:
            feats (Tensor | Sequence[Tensor]): The backbone feature (B, C, h, w), or the backbone's
                tuple of features, of which ``feats[in_index]`` is used.

        Returns:
            Tensor: Heatmaps of shape (B, out_channels, H, W), in float32 when computed in half precision: mmpose's
            loss, accuracy and decoding hand them to numpy, which has no bfloat16 (a bf16 model, FSDP mixed
            precision or autocast would otherwise fail there).
        """
        x = feats if isinstance(feats, Tensor) else feats[self.in_index]
        if self.upsample > 0:
            # The official head applies this ReLU only on the upsampling path (the simple decoder).
            x = F.interpolate(F.relu(x), scale_factor=self.upsample, mode='bilinear',
                              align_corners=self.align_corners)
        x = self.deconv_layers(x)
        x = self.conv_layers(x)
        x = self.final_layer(x)
        return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x

    def predict(self, feats: Any, batch_data_samples: OptSampleList, test_cfg: Optional[ConfigType] = None) -> Any:
        """``HeatmapHead.predict`` (same inputs, outputs and ``test_cfg`` keys), with the flip test's two views
        ``feats = [feats, feats_flipped]`` run through the layers as one batch of 2B instead of two passes; the
        flipped heatmaps are mirrored (``flip_heatmaps``) and averaged with the others in float32."""
        test_cfg = test_cfg or {}
        if not test_cfg.get('flip_test', False):
            return super().predict(feats, batch_data_samples, test_cfg)
        assert isinstance(feats, list) and len(feats) == 2, 'flip test: feats must be [feats, feats_flipped]'
        views = [f if isinstance(f, Tensor) else f[self.in_index] for f in feats]
        heatmaps, heatmaps_flip = self.forward(torch.cat(views)).split(views[0].shape[0])
        heatmaps_flip = flip_heatmaps(heatmaps_flip, flip_mode=test_cfg.get('flip_mode', 'heatmap'),
                                      flip_indices=batch_data_samples[0].metainfo['flip_indices'],
                                      shift_heatmap=test_cfg.get('shift_heatmap', False))
        batch_heatmaps = (heatmaps + heatmaps_flip) * 0.5
        preds = self.decode(batch_heatmaps)
        if test_cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=hm) for hm in batch_heatmaps.detach()]
        return preds


DECONV_1X_DEFAULTS = dict(deconv_out_channels=(256, 256, 256), deconv_kernel_sizes=(4, 4, 4))  # HeatmapHead's
DECONV_0X_DEFAULTS = dict(num_deconv_layers=3, num_deconv_filters=(256, 256, 256),
                          num_deconv_kernels=(4, 4, 4))  # the official head's


def _given(args: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in args.items() if v is not NOT_GIVEN}


def _or_default(args: Dict[str, Any], defaults: Dict[str, Any]) -> Dict[str, Any]:
    return {k: defaults[k] if v is NOT_GIVEN else v for k, v in args.items()}


def _not_both(args_0x: Dict[str, Any], args_1x: Dict[str, Any]) -> None:
    """A ValueError when the same part of the head is named both in mmpose 0.x and in mmpose 1.x terms."""
    given_1x = _given(args_1x)
    if given_1x:
        raise ValueError(f'give {sorted(args_1x)} (mmpose 1.x) or {sorted(args_0x)} (official 0.x), not both; got '
                         f'{sorted(given_1x)} and {sorted(_given(args_0x))}')


def _deconv_args(num_deconv_layers: int, num_deconv_filters: Sequence[int],
                 num_deconv_kernels: Sequence[int]) -> Tuple[Optional[Tuple[int, ...]], Optional[Tuple[int, ...]]]:
    """Translate the official deconv arguments into ``HeatmapHead``'s (None = no deconv layers)."""
    if not isinstance(num_deconv_layers, int) or num_deconv_layers < 0:
        raise ValueError(f'num_deconv_layers must be an int >= 0, got {num_deconv_layers!r}')
    if num_deconv_layers == 0:
        return None, None  # the official head ignores the filter/kernel lists here too
    if len(num_deconv_filters) != num_deconv_layers:
        raise ValueError(f'num_deconv_filters has {len(num_deconv_filters)} entries but num_deconv_layers is '
                         f'{num_deconv_layers}')
    if len(num_deconv_kernels) != num_deconv_layers:
        raise ValueError(f'num_deconv_kernels has {len(num_deconv_kernels)} entries but num_deconv_layers is '
                         f'{num_deconv_layers}')
    return tuple(num_deconv_filters), tuple(num_deconv_kernels)


def _check_extra(extra: Optional[dict]) -> dict:
    extra = {} if extra is None else extra
    if not isinstance(extra, dict):
        raise ValueError(f'extra must be a dict or None, got {type(extra).__name__}')
    unknown = sorted(set(extra) - set(_EXTRA_KEYS))
    if unknown:
        raise ValueError(f'extra has unknown keys {unknown}; accepted keys: {list(_EXTRA_KEYS)}')
    return extra


def _conv_args(extra: dict, conv_channels: int) -> Tuple[Optional[Tuple[int, ...]], Optional[Tuple[int, ...]]]:
    """The official ``extra['num_conv_layers' / 'num_conv_kernels']`` in ``HeatmapHead``'s terms."""
    num_convs = extra.get('num_conv_layers', 0)
    if not isinstance(num_convs, int) or num_convs < 0:
        raise ValueError(f"extra['num_conv_layers'] must be an int >= 0, got {num_convs!r}")
    conv_kernels = tuple(extra.get('num_conv_kernels', (1, ) * num_convs))
    if len(conv_kernels) != num_convs:
        raise ValueError(f"extra['num_conv_kernels'] has {len(conv_kernels)} entries but "
                         f"extra['num_conv_layers'] is {num_convs}")
    if not num_convs:
        return None, None
    # HeatmapHead's load-state-dict hook renames the official `final_layer.{i}.*` keys of these layers
    # to `conv_layers.{i}.*`.
    return (conv_channels, ) * num_convs, conv_kernels


def _final_layer_args(final_layer: Optional[dict], has_final_layer: bool, extra: dict) -> Optional[dict]:
    """``HeatmapHead``'s ``final_layer`` from whichever of its three spellings was given (None = no final layer)."""
    if final_layer is not NOT_GIVEN and final_layer is not None and not isinstance(final_layer, dict):
        raise ValueError(f'final_layer must be a dict or None, got {type(final_layer).__name__}')
    if final_layer is not NOT_GIVEN and 'final_conv_kernel' in extra:
        raise ValueError("give the final layer as `final_layer` (mmpose 1.x) or as extra['final_conv_kernel'] "
                         '(official 0.x), not both')
    if 'final_conv_kernel' in extra:
        kernel = extra['final_conv_kernel']
        if kernel not in (0, *_FINAL_CONV_PADDING):
            raise ValueError(f"extra['final_conv_kernel'] must be 0, 1 or 3, got {kernel!r}")
        if kernel == 0 and extra.get('num_conv_layers', 0):
            # The official head silently drops the conv layers in this case.
            raise ValueError("extra['num_conv_layers'] needs a final conv; got extra['final_conv_kernel'] = 0")
        final_layer = None if kernel == 0 else dict(kernel_size=kernel, padding=_FINAL_CONV_PADDING[kernel])
    elif isinstance(final_layer, dict) and final_layer.get('kernel_size') == 0:
        # mmpose's check_and_update_config rewrites the official extra=dict(final_conv_kernel=0) (no final conv)
        # into final_layer=dict(kernel_size=0), which no Conv2d accepts: read it as the official head does.
        final_layer = None
    if has_final_layer is not NOT_GIVEN:
        if not isinstance(has_final_layer, bool):
            raise ValueError(f'has_final_layer must be True or False, got {has_final_layer!r}')
        if not has_final_layer and final_layer not in (NOT_GIVEN, None):
            raise ValueError(f'has_final_layer=False but the final layer is given as {final_layer}; give one of '
                             '`has_final_layer=False` and `final_layer`')
        if has_final_layer and final_layer is None:
            raise ValueError('has_final_layer=True but final_layer is None (no final layer); give one of them')
        if not has_final_layer:
            final_layer = None
    return dict(kernel_size=1) if final_layer is NOT_GIVEN else final_layer
