# References: mmpose 1.3.2 models/pose_estimators/bottomup.py (BottomupPoseEstimator.predict: flip test on the input,
# add_pred_to_datasample), models/heads/hybrid_heads/dekr_head.py and heatmap_heads/ae_head.py (predict: flip
# averaging, decoding), apis/inference.py (inference_bottomup); all reused, not rewritten.
"""ONNX export of a bottom-up ViTPose: the network in the graph, the grouping and decoding in Python.

The graph is the model's ``tensor`` mode, backbone + neck + head: float32 normalized images (N, 3, H, W) -> every
map the head's ``forward`` returns, one graph output each (``DEKRHead``: ``heatmaps`` (N, K+1, H/4, W/4) and
``displacements`` (N, 2K, H/4, W/4); ``AssociativeEmbeddingHead``: ``heatmaps`` and ``tags``). The batch axis is
dynamic; H and W are fixed at the codec's input size: the package's ViT resamples its position grid with Python
integers, so ``torch.export`` bakes the traced grid in (tried with torch 2.14.1: an export traced with symbolic H and W
fails at run time at any other size). A runtime therefore fits each image into that size, keeping its aspect ratio
and padding the rest (mmpose's ``BottomupResize`` with ``resize_mode='fit'``, written into the export's test
pipeline); a config whose test pipeline uses ``resize_mode='expand'`` gives slightly different people in torch for
images of another aspect ratio.

:class:`OnnxBottomupModel` runs such a file where mmpose's ``inference_bottomup`` (and so ``PoseEstimator``) takes a
bottom-up model: the metadata's test pipeline resizes, mmpose's ``PoseDataPreprocessor`` normalizes, and mmpose's own
``BottomupPoseEstimator.predict`` and the head's ``predict`` (flip test with the dataset's flip indices, grouping, the
codec's decoding, keypoint NMS) run unchanged, with the head's ``forward`` answered by onnxruntime.

Heads whose ``predict`` needs more than the maps of ``forward`` cannot be split this way and are refused by name:
``CIDHead`` (its GFD module runs on features sampled at each detected person), ``RTMOHead`` (its DCC module), and a
``DEKRHead`` with a rescore net (``rescore_cfg``: an MLP on the decoded keypoints).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

# the heads exported, with the names of their forward outputs (mmpose 1.3.2)
EXPORTABLE_HEADS: Dict[str, Tuple[str, ...]] = {
    'DEKRHead': ('heatmaps', 'displacements'),
    'AssociativeEmbeddingHead': ('heatmaps', 'tags'),
}
_REFUSED = {
    'CIDHead': 'its GFD module decodes each person from features sampled at the detected centres',
    'RTMOHead': 'its DCC module decodes each person from the pose vectors of the kept boxes',
}


def output_names(head_cfg: dict) -> Tuple[str, ...]:
    """The graph's output names for a head config.

    Raises:
        ValueError: a head whose decoding needs more than the maps of its ``forward`` (named, with the reason), or
            a head this exporter does not know (the accepted ones listed).
    """
    head_type = str(head_cfg.get('type', '')).split('.')[-1]
    if head_type in _REFUSED:
        raise ValueError(f'{head_type} is not exportable as network + Python decoding: {_REFUSED[head_type]}; '
                         f'accepted bottom-up heads: {list(EXPORTABLE_HEADS)}')
    if head_type not in EXPORTABLE_HEADS:
        raise ValueError(f'bottom-up head {head_type!r} is not exported; accepted: {list(EXPORTABLE_HEADS)}')
    if head_type == 'DEKRHead' and head_cfg.get('rescore_cfg'):
        raise ValueError('DEKRHead with rescore_cfg is not exportable: its rescore net scores the decoded '
                         'keypoints after the graph; export a config without rescore_cfg')
    return EXPORTABLE_HEADS[head_type]


class TorchvisionDeformConv2d(nn.Module):
    """mmcv's ``DeformConv2d`` (``DEKRHead``'s adaptive blocks) computed by ``torchvision.ops.deform_conv2d``: the same
    weights, offsets layout and output (checked equal in the tests). mmcv 2.1.0's op is a compiled kernel that
    ``torch.export`` cannot trace ("data is not allocated yet"); torchvision's is exported as ONNX ``DeformConv``
    (opset 19), which onnxruntime runs. Used only on the copy of the model that is exported."""

    def __init__(self, conv: nn.Module):
        super().__init__()
        self.weight = conv.weight
        self.stride, self.padding, self.dilation = conv.stride, conv.padding, conv.dilation

    def forward(self, x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        from torchvision.ops import deform_conv2d
        return deform_conv2d(x, offset, self.weight, None, self.stride, self.padding, self.dilation)


def exportable_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` with every mmcv ``DeformConv2d`` replaced by :class:`TorchvisionDeformConv2d`.

    Raises:
        ValueError: a ``DeformConv2d`` with a bias (none in mmpose's heads; not translated here).
    """
    import copy

    from mmcv.ops import DeformConv2d
    model = copy.deepcopy(model)
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, DeformConv2d):
                if getattr(child, 'bias', None) is not None:
                    raise ValueError(f'{name}.{child_name}: DeformConv2d with a bias is not exported')
                setattr(module, child_name, TorchvisionDeformConv2d(child))
    return model


class BottomupGraph(nn.Module):
    """float32 (N, 3, H, W) normalized images -> the head's output maps (a tuple), float32.

    Args:
        model: mmpose's ``BottomupPoseEstimator`` (``model(x, None, mode='tensor')`` gives the maps).
        precision: ``fp32``, or ``fp16`` (a float16 copy, input cast in, outputs cast out); ``int8`` traces fp32.
    """

    def __init__(self, model: nn.Module, precision: str = 'fp32'):
        super().__init__()
        self.dtype = torch.float16 if precision == 'fp16' else torch.float32
        self.model = exportable_copy(model).to(self.dtype).eval()

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        out = self.model(x.to(self.dtype), None, mode='tensor')
        out = out if isinstance(out, (tuple, list)) else (out, )
        return tuple(o.float() for o in out)


def fixed_size_pipeline(test_pipeline: Sequence[dict], input_size: Tuple[int, int]) -> List[dict]:
    """The test pipeline an export runs with: its ``BottomupResize`` fits every image into ``input_size`` (w, h)
    (``resize_mode='fit'``), the graph's fixed size.

    Raises:
        ValueError: a pipeline without ``BottomupResize`` (the export would not know how to size the images).
    """
    pipeline = [dict(t) for t in test_pipeline]
    resize = [t for t in pipeline if t.get('type') == 'BottomupResize']
    if not resize:
        raise ValueError(f'the test pipeline {[t.get("type") for t in pipeline]} has no BottomupResize; a bottom-up '
                         'export needs it to size the images')
    resize[0].update(input_size=list(input_size), resize_mode='fit')
    return pipeline


def head_config(cfg) -> dict:
    """The head config a runtime rebuilds (for its ``predict``, decoder and flip logic), without weights to load."""
    head = dict(cfg.model.head)
    head.pop('init_cfg', None)
    return head


class OnnxBottomupModel:
    """An exported bottom-up ViTPose behind onnxruntime, usable where ``inference_bottomup`` takes a model.

    ``PoseEstimator(OnnxBottomupModel(path))(img)`` gives the people as the torch model does. The head is rebuilt
    from the metadata (its layers unused: ``forward`` is onnxruntime's) so that its ``predict`` (flip test,
    grouping, decoding) is mmpose's own.

    Args:
        onnx_path: a bottom-up export of ``tools/export_onnx.py``. providers, num_threads: see
            :func:`vitpose_mm.deploy.create_session`.

    Raises:
        ValueError: the file is a top-down export.
    """
    data_mode = 'bottomup'
    with_head = True

    def __init__(self, onnx_path: str, providers: Optional[Sequence[str]] = None,
                 num_threads: Optional[int] = None):
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        from mmpose.registry import MODELS

        from .metadata import metadata_from_props
        from .runtime import create_session
        self.session = create_session(onnx_path, providers, num_threads)
        self.meta = metadata_from_props(dict(self.session.get_modelmeta().custom_metadata_map), onnx_path)
        if self.meta.get('data_mode') != 'bottomup':
            raise ValueError(f'{onnx_path} is a top-down export: run it with vitpose_mm.deploy.OnnxPoseModel')
        self.providers = list(self.session.get_providers())
        self.input_name = self.session.get_inputs()[0].name
        self.dataset_meta = self.meta['dataset_meta']
        self.test_cfg = dict(self.meta['test_cfg'])
        self.cfg = Config(dict(default_scope='mmpose',
                               test_dataloader=dict(dataset=dict(pipeline=self.meta['test_pipeline']))))
        init_default_scope('mmpose')
        self.data_preprocessor = MODELS.build(dict(self.meta['data_preprocessor']))
        self.head = MODELS.build(dict(self.meta['head'])).eval()
        self.head.forward = self.forward_maps  # the head's predict calls self.forward(feats)

    def eval(self) -> 'OnnxBottomupModel':
        return self

    def run(self, inputs: np.ndarray) -> List[np.ndarray]:
        """(N, 3, H, W) normalized float32 images -> the graph's outputs (numpy).

        Raises:
            ValueError: images of another size than the export's (its ``input_size``).
        """
        w, h = self.meta['input_size']
        if inputs.ndim != 4 or tuple(inputs.shape[1:]) != (3, h, w):
            raise ValueError(f'inputs must have shape (N, 3, {h}, {w}) (the exported input_size), got '
                             f'{tuple(inputs.shape)}')
        return self.session.run(None, {self.input_name: np.ascontiguousarray(inputs, dtype=np.float32)})

    def forward_maps(self, feats) -> Tuple[torch.Tensor, ...]:
        x = feats[-1] if isinstance(feats, (tuple, list)) else feats
        return tuple(torch.from_numpy(o) for o in self.run(x.float().numpy()))

    def extract_feat(self, inputs: torch.Tensor) -> Tuple[torch.Tensor]:
        """The "features" handed to the head's ``predict``: the (flipped) input itself, run by :meth:`forward_maps`."""
        return (inputs, )

    def test_step(self, data: dict) -> list:
        """A batch of ``inference_bottomup`` or of a test loop -> the data samples with ``pred_instances``."""
        from mmpose.models.pose_estimators import BottomupPoseEstimator
        data = self.data_preprocessor(data, False)
        with torch.no_grad():
            return BottomupPoseEstimator.predict(self, data['inputs'], data['data_samples'])

    def add_pred_to_datasample(self, *args):
        from mmpose.models.pose_estimators import BottomupPoseEstimator
        return BottomupPoseEstimator.add_pred_to_datasample(self, *args)

    def __call__(self, img, person_thr: float = 0.1) -> list:
        """The people in ``img`` (a path, array or PIL image), as :class:`vitpose_mm.apis.PoseEstimator` finds them."""
        from vitpose_mm.apis import PoseEstimator
        return PoseEstimator(self, person_thr=person_thr)(img)


__all__ = ['EXPORTABLE_HEADS', 'output_names', 'TorchvisionDeformConv2d', 'exportable_copy', 'BottomupGraph',
           'fixed_size_pipeline', 'head_config', 'OnnxBottomupModel']
