# References: mmpose 1.3.2 apis/inference.py (inference_topdown), models/heads/heatmap_heads/heatmap_head.py
# (HeatmapHead.predict: flip test), models/pose_estimators/topdown.py (add_pred_to_datasample), reused.
"""Running an exported ``.onnx`` with onnxruntime: raw heatmaps, or people in an image as ``PoseEstimator`` finds them.

- :func:`build_onnx_runner`: ``(N, 3, H, W)`` normalized crops -> ``(N, K, H/4, W/4)`` heatmaps, numpy in and out
  (what a benchmark times).
- :class:`OnnxPoseModel`: image + boxes -> keypoints. It stands in for the torch pose model inside mmpose's
  ``inference_topdown`` (and so inside ``PoseEstimator``): the same test pipeline cuts the crops (``TopdownAffine``,
  UDP), mmpose's ``PoseDataPreprocessor`` normalizes them, the flip test runs the mirrored crops in the same batch and
  averages them with mmpose's ``flip_heatmaps``, the head's codec decodes and mmpose's ``add_pred_to_datasample``
  maps the keypoints back to the image. Everything it needs is read from the file's metadata (:mod:`.metadata`).
"""
from typing import Callable, List, Optional, Sequence

import numpy as np
import torch

from vitpose_mm.apis import PoseEstimator
from .metadata import metadata_from_props

DEFAULT_PROVIDERS = ('CUDAExecutionProvider', 'CPUExecutionProvider')


def check_providers(providers: Sequence[str]) -> None:
    """ValueError naming the execution providers this onnxruntime lacks, and those it has."""
    import onnxruntime as ort
    available = ort.get_available_providers()
    missing = [p for p in providers if p not in available]
    if missing:
        raise ValueError(f'execution provider(s) {missing} not available in this onnxruntime {ort.__version__}; '
                         f'available: {available}')


def create_session(onnx_path: str, providers: Optional[Sequence[str]] = None, num_threads: Optional[int] = None):
    """An ``onnxruntime.InferenceSession`` of ``onnx_path``.

    Args:
        providers: execution providers in order of preference; default: CUDA when this onnxruntime has it, then CPU.
        num_threads: intra-op threads (default: onnxruntime's, one per core).

    Raises:
        ImportError: onnxruntime is not installed. ValueError: a provider this onnxruntime does not have (the
        message lists those it has). FileNotFoundError: no such file.
    """
    import os.path as osp
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ImportError('onnxruntime is needed to run exported models: pip install onnxruntime '
                          '(onnxruntime-gpu for CUDA)') from e
    if not osp.isfile(onnx_path):
        raise FileNotFoundError(f'ONNX model not found: {onnx_path}')
    if providers is None:
        providers = [p for p in DEFAULT_PROVIDERS if p in ort.get_available_providers()]
    check_providers(providers)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: fp16 graphs log a warning per node it cannot constant-fold on the CPU
    if num_threads:
        options.intra_op_num_threads = num_threads
    return ort.InferenceSession(onnx_path, options, providers=list(providers))


def build_onnx_runner(onnx_path: str, providers: Optional[Sequence[str]] = None,
                      num_threads: Optional[int] = None) -> Callable[[np.ndarray], np.ndarray]:
    """``run(crops)``: float32 ``(N, 3, H, W)`` normalized crops (any N) -> float32 ``(N, K, H/4, W/4)`` heatmaps.

    The crops are what the model's ``data_preprocessor`` gives (RGB, ``(pixel - mean) / std``); no flip test, no
    decoding. ``providers`` and ``num_threads``: see :func:`create_session`. ``run`` raises ValueError for crops of
    another shape; ``run.providers`` are the providers onnxruntime uses, ``run.metadata_props`` the file's metadata.
    """
    session = create_session(onnx_path, providers, num_threads)
    inp = session.get_inputs()[0]
    out = session.get_outputs()[0].name
    shape = tuple(inp.shape[1:])

    def run(crops: np.ndarray) -> np.ndarray:
        crops = np.ascontiguousarray(crops, dtype=np.float32)
        if crops.ndim != 4 or crops.shape[1:] != shape:
            raise ValueError(f'crops must have shape (N, {", ".join(map(str, shape))}), got {crops.shape}')
        return session.run([out], {inp.name: crops})[0]

    run.providers = session.get_providers()  # what onnxruntime really uses, for logs
    run.metadata_props = dict(session.get_modelmeta().custom_metadata_map)  # read with the model, not again
    return run


class OnnxPoseModel:
    """An exported ViTPose behind onnxruntime, usable where mmpose's ``inference_topdown`` takes a pose model.

    ``model(img, bboxes)`` gives the people as ``PoseEstimator(model)(img, bboxes)`` does (same box handling, same
    :class:`vitpose_mm.apis.Person` results); ``model.test_step(batch)`` is what ``inference_topdown`` calls.

    Args:
        onnx_path: a file written by ``tools/export_onnx.py`` (its metadata says how to cut, normalize and decode).
        providers, num_threads: see :func:`create_session`.

    Attributes:
        meta: the file's metadata; dataset_meta: keypoint names, flip indices, skeleton (mmpose's format);
        providers: the execution providers onnxruntime runs it with.
    """

    def __init__(self, onnx_path: str, providers: Optional[Sequence[str]] = None,
                 num_threads: Optional[int] = None):
        from mmengine.config import Config
        from mmengine.registry import init_default_scope
        from mmpose.registry import KEYPOINT_CODECS, MODELS
        self.run = build_onnx_runner(onnx_path, providers, num_threads)
        self.meta = metadata_from_props(self.run.metadata_props, onnx_path)
        self.providers = list(self.run.providers)
        self.dataset_meta = self.meta['dataset_meta']
        self.test_cfg = dict(self.meta['test_cfg'])
        # what inference_topdown reads from a model: the scope and the test pipeline
        self.cfg = Config(dict(default_scope='mmpose',
                               test_dataloader=dict(dataset=dict(pipeline=self.meta['test_pipeline']))))
        init_default_scope('mmpose')
        self.data_preprocessor = MODELS.build(dict(self.meta['data_preprocessor']))
        self.decoder = KEYPOINT_CODECS.build(dict(self.meta['codec']))

    def eval(self) -> 'OnnxPoseModel':
        """Nothing to switch (an exported graph is always in inference mode); mmengine's test loop calls it."""
        return self

    def heatmaps(self, inputs: torch.Tensor, flip_indices: Optional[List[int]] = None) -> torch.Tensor:
        """(N, 3, H, W) normalized crops -> (N, K, h, w) float32 heatmaps, flip-test averaged when ``test_cfg`` says
        so (the mirrored crops go through the graph in the same batch; ``flip_indices`` default: dataset_meta's)."""
        x = inputs.float().numpy()
        if not self.test_cfg.get('flip_test', False):
            return torch.from_numpy(self.run(x))
        from mmpose.models.utils.tta import flip_heatmaps
        both = torch.from_numpy(self.run(np.concatenate([x, x[..., ::-1]])))
        n = len(x)
        flipped = flip_heatmaps(both[n:], flip_mode=self.test_cfg.get('flip_mode', 'heatmap'),
                                flip_indices=flip_indices or self.dataset_meta['flip_indices'],
                                shift_heatmap=self.test_cfg.get('shift_heatmap', False))
        return (both[:n] + flipped) * 0.5

    def test_step(self, data: dict) -> list:
        """A batch of ``inference_topdown``'s (``inputs``: uint8 crops, ``data_samples``) -> the data samples with
        ``pred_instances`` (keypoints in image pixels, keypoint_scores), as ``TopdownPoseEstimator.test_step``."""
        from mmpose.models.heads.base_head import BaseHead
        from mmpose.models.pose_estimators import TopdownPoseEstimator
        data = self.data_preprocessor(data, False)
        samples = data['data_samples']
        heatmaps = self.heatmaps(data['inputs'], samples[0].metainfo.get('flip_indices'))
        # mmpose's own functions, which read only ``self.decoder`` and ``self.test_cfg``: decoding and the mapping
        # from crop to image coordinates stay exactly those of the torch model
        preds = BaseHead.decode(self, heatmaps)
        return TopdownPoseEstimator.add_pred_to_datasample(self, preds, None, samples)

    def __call__(self, img, bboxes: Optional[np.ndarray] = None, bbox_format: str = 'xyxy',
                 channel_order: Optional[str] = None) -> list:
        """The people in ``img`` (a path, array or PIL image) within ``bboxes`` (default: the whole image): a list of
        :class:`vitpose_mm.apis.Person`; arguments and errors as :meth:`vitpose_mm.apis.PoseEstimator.__call__`."""
        return PoseEstimator(self)(img, bboxes, bbox_format, channel_order)


__all__ = ['DEFAULT_PROVIDERS', 'check_providers', 'create_session', 'build_onnx_runner', 'OnnxPoseModel']
