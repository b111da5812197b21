"""The parity check of an export: the same random crops through the torch model and through onnxruntime.

Heatmaps are compared element by element (max abs difference); keypoints are decoded from both with the model's
codec (mmpose's ``UDPHeatmap``: maximum, then DARK-UDP refinement) and compared in crop pixels. On random crops the
heatmaps are flat and partly negative, and DARK's refinement (log of the blurred heatmap, inverse Hessian) is then
ill-conditioned for a few keypoints: there a 1e-7 change of the heatmaps moves a keypoint by pixels to thousands of
pixels (measured: uniform 1e-7 noise on the heatmaps of a random-weight model gives a median displacement of 1e-4
px and a maximum of 3,000 px). The keypoint criterion is therefore the **median** displacement; the mean and the
maximum are printed too.

Tolerances (:data:`TOLERANCES`), against the fp32 torch model in both cases:

- fp32: heatmaps 1e-4, median keypoint displacement 0.01 px;
- fp16: heatmaps 1e-2, median keypoint displacement 0.25 px (float16 has 11 significant bits);
- int8: heatmaps 5e-2, median keypoint displacement 0.5 px (8-bit weights and activations in every projection;
  measured on the demo model, 16 random crops: 0.028 and 0.13 px). Its accuracy check is AP on real data:
  ``tools/test.py CONFIG MODEL.onnx`` (docs/deploy.md).
"""
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from .runtime import build_onnx_runner

TOLERANCES: Dict[str, Tuple[float, float]] = {'fp32': (1e-4, 0.01), 'fp16': (1e-2, 0.25), 'int8': (5e-2, 0.5)}


@dataclass
class ParityReport:
    """The outcome of :func:`check_parity`; ``str()`` gives the printed lines."""
    precision: str
    batch: int
    providers: Tuple[str, ...]
    heatmap_max_abs: float
    heatmap_tol: float
    keypoint_median_px: float
    keypoint_mean_px: float
    keypoint_max_px: float
    keypoint_tol: float

    @property
    def passed(self) -> bool:
        return self.heatmap_max_abs <= self.heatmap_tol and self.keypoint_median_px <= self.keypoint_tol

    def __str__(self) -> str:
        def verdict(ok: bool) -> str:
            return 'ok' if ok else 'FAILED'
        return '\n'.join([
            f'parity ({self.precision} onnxruntime {",".join(self.providers)} vs fp32 torch, {self.batch} random '
            'crops):',
            f'  heatmaps: max abs difference {self.heatmap_max_abs:.3g} (tolerance {self.heatmap_tol:g}) '
            f'{verdict(self.heatmap_max_abs <= self.heatmap_tol)}',
            f'  keypoints: median displacement {self.keypoint_median_px:.3g} px (tolerance {self.keypoint_tol:g} px) '
            f'{verdict(self.keypoint_median_px <= self.keypoint_tol)}; mean {self.keypoint_mean_px:.3g} px, max '
            f'{self.keypoint_max_px:.3g} px'])


def decode_keypoints(codec: dict, heatmaps: np.ndarray) -> np.ndarray:
    """(N, K, h, w) heatmaps -> (N, K, 2) keypoints in crop pixels, with mmpose's codec of config ``codec``."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import KEYPOINT_CODECS
    init_default_scope('mmpose')
    decoder = KEYPOINT_CODECS.build(dict(codec))
    return np.concatenate([decoder.decode(h.copy())[0] for h in heatmaps])


def check_parity(model: nn.Module, onnx_path: str, meta: dict, batch: int = 4, seed: int = 0,
                 providers: Optional[Sequence[str]] = None) -> ParityReport:
    """Run ``batch`` random normal crops through ``model`` (fp32 torch, ``tensor`` mode) and the ``.onnx`` file.

    Args:
        model: the exported pose model (fp32, eval).
        onnx_path: the export; meta: its metadata (``input_size``, ``codec``, ``precision``).
        providers: onnxruntime execution providers (default: CPU; an fp16 export also runs there, slowly).

    Raises:
        ValueError: unknown provider (see :func:`vitpose_mm.deploy.create_session`).
    """
    providers = tuple(providers or ('CPUExecutionProvider', ))
    w, h = meta['input_size']
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((batch, 3, h, w), dtype=np.float32))
    with torch.no_grad():
        want = model(x, None, mode='tensor').float().numpy()
    got = build_onnx_runner(onnx_path, providers)(x.numpy())
    if got.shape != want.shape:
        raise ValueError(f'the ONNX model gives heatmaps {got.shape}, the torch model {want.shape}')
    shift = np.linalg.norm(decode_keypoints(meta['codec'], want) - decode_keypoints(meta['codec'], got), axis=-1)
    heat_tol, kpt_tol = TOLERANCES[meta['precision']]
    return ParityReport(meta['precision'], batch, providers, float(np.abs(got - want).max()), heat_tol,
                        float(np.median(shift)), float(shift.mean()), float(shift.max()), kpt_tol)


__all__ = ['TOLERANCES', 'ParityReport', 'check_parity', 'decode_keypoints']
