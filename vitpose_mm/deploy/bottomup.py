# References: mmpose 1.3.2 models/pose_estimators/bottomup.py (BottomupPoseEstimator.predict: flip test on the input,
# add_pred_to_datasample), models/heads/hybrid_heads/dekr_head.py and heatmap_heads/ae_head.py (predict: flip
# averaging, decoding), apis/inference.py (inference_bottomup); all reused, not rewritten.
"""ONNX export of a bottom-up ViTPose: the network in the graph, the grouping and decoding in Python.

The graph is the model's ``tensor`` mode, backbone + neck + head: float32 normalized images (N, 3, H, W) -> every
map the head's ``forward`` returns, one graph output each (``DEKRHead``: ``heatmaps`` (N, K+1, H/4, W/4) and
``displacements`` (N, 2K, H/4, W/4); ``AssociativeEmbeddingHead``: ``heatmaps`` and ``tags``). H and W are dynamic
(multiples of the test pipeline's ``BottomupResize.size_factor``, as ``resize_mode='expand'`` gives them) unless the
export is made at a fixed size.

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


class BottomupGraph(nn.Module):
    """float32 (N, 3, H, W) normalized images -> the head's output maps (a tuple), float32.

    Args:
        model: mmpose's ``BottomupPoseEstimator`` (``model(x, None, mode='tensor')`` gives the maps).
        precision: ``fp32``, or ``fp16`` (a float16 copy, input cast in, outputs cast out); ``int8`` traces fp32.
    """

    def __init__(self, model: nn.Module, precision: str = 'fp32'):
        super().__init__()
        import copy
        self.dtype = torch.float16 if precision == 'fp16' else torch.float32
        self.model = (copy.deepcopy(model).to(self.dtype) if precision == 'fp16' else model).eval()

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        out = self.model(x.to(self.dtype), None, mode='tensor')
        out = out if isinstance(out, (tuple, list)) else (out, )
        return tuple(o.float() for o in out)


def size_factor(test_pipeline: Sequence[dict]) -> int:
    """The ``size_factor`` of the pipeline's ``BottomupResize`` (mmpose's default 32)."""
    resize = next((t for t in test_pipeline if t.get('type') == 'BottomupResize'), {})
    return int(resize.get('size_factor', 32))


def dynamic_shapes(test_pipeline: Sequence[dict], dynamic_size: bool) -> dict:
    """``torch.export`` dims: the batch always; height and width as multiples of the resize's ``size_factor``."""
    batch = torch.export.Dim('batch')
    if not dynamic_size:
        return {'x': {0: batch}}
    f = size_factor(test_pipeline)
    return {'x': {0: batch, 2: f * torch.export.Dim('rows', min=1, max=4096 // f),
                  3: f * torch.export.Dim('columns', min=1, max=4096 // f)}}


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
        """(N, 3, H, W) normalized float32 images -> the graph's outputs (numpy)."""
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


__all__ = ['EXPORTABLE_HEADS', 'output_names', 'BottomupGraph', 'dynamic_shapes', 'head_config', 'size_factor',
           'OnnxBottomupModel']
