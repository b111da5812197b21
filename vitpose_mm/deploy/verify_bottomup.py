"""The parity check of a bottom-up export: every output map, and the people decoded from them, torch vs onnxruntime.

Maps: a random normal image through the torch model (``tensor`` mode) and the graph, at the exported size; each
output's max abs difference must be within the
precision's heatmap tolerance (:data:`vitpose_mm.deploy.verify.TOLERANCES`) times the output's peak (at least 1):
displacement fields are in heatmap pixels, not in 0..1. People: one random image (sides not multiples of 16) through
mmpose's ``inference_bottomup`` with the torch model and with :class:`OnnxBottomupModel` (the export's pipeline for
both, the same flip test, grouping and decoding): the same number of people, and keypoints within the keypoint tolerance (median, in
image pixels; each person against its nearest counterpart).
"""
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from .bottomup import OnnxBottomupModel
from .verify import TOLERANCES


@dataclass
class BottomupParityReport:
    """The outcome of :func:`check_parity_bottomup`; ``str()`` gives the printed lines."""
    precision: str
    providers: Tuple[str, ...]
    shapes: Tuple[Tuple[int, int], ...]  # (H, W) of the inputs compared
    max_abs: Dict[str, float]  # per output, over the shapes
    peak: Dict[str, float]
    map_tol: float
    people_torch: int
    people_onnx: int
    keypoint_median_px: float
    keypoint_max_px: float
    keypoint_tol: float

    def map_ok(self, name: str) -> bool:
        return self.max_abs[name] <= self.map_tol * max(1.0, self.peak[name])

    @property
    def people_ok(self) -> bool:
        return self.people_torch == self.people_onnx and not self.keypoint_median_px > self.keypoint_tol

    @property
    def passed(self) -> bool:
        return all(self.map_ok(n) for n in self.max_abs) and self.people_ok

    def __str__(self) -> str:
        def verdict(ok: bool) -> str:
            return 'ok' if ok else 'FAILED'
        sizes = ', '.join(f'{h}x{w}' for h, w in self.shapes)
        lines = [f'parity ({self.precision} onnxruntime {",".join(self.providers)} vs fp32 torch, random inputs '
                 f'{sizes}):']
        lines += [f'  {name}: max abs difference {self.max_abs[name]:.3g} (peak {self.peak[name]:.3g}, tolerance '
                  f'{self.map_tol:g} x max(1, peak)) {verdict(self.map_ok(name))}' for name in self.max_abs]
        lines.append(f'  people: torch {self.people_torch}, onnxruntime {self.people_onnx}; keypoints: median '
                     f'displacement {self.keypoint_median_px:.3g} px, max {self.keypoint_max_px:.3g} px (tolerance '
                     f'{self.keypoint_tol:g} px) {verdict(self.people_ok)}')
        return '\n'.join(lines)


def match_people(want: np.ndarray, got: np.ndarray) -> np.ndarray:
    """Keypoint displacements (N, K) of each ``want`` person (N, K, 2) to its nearest ``got`` person (mean keypoint
    distance): near-equal person scores may list the same people in another order."""
    dist = np.linalg.norm(want[:, None] - got[None], axis=-1)  # (N, M, K)
    return dist[np.arange(len(want)), dist.mean(axis=-1).argmin(axis=1)]


def check_parity_bottomup(model: nn.Module, onnx_path: str, meta: dict, seed: int = 0,
                          providers: Optional[Sequence[str]] = None) -> BottomupParityReport:
    """Compare ``model`` (fp32 torch, eval, with the ``cfg`` of ``init_model``) and the export ``onnx_path``.

    Raises:
        ValueError: unknown provider (see :func:`vitpose_mm.deploy.create_session`), or outputs of other shapes.
    """
    from vitpose_mm.apis.bottomup import predict_bottomup
    providers = tuple(providers or ('CPUExecutionProvider', ))
    runtime = OnnxBottomupModel(onnx_path, providers)
    names = list(meta['outputs'])
    w, h = meta['input_size']
    shapes = [(h, w)]
    rng = np.random.default_rng(seed)
    max_abs = {n: 0.0 for n in names}
    peak = {n: 0.0 for n in names}
    for hh, ww in shapes:
        x = rng.standard_normal((1, 3, hh, ww), dtype=np.float32)
        with torch.no_grad():
            want = model(torch.from_numpy(x), None, mode='tensor')
        want = [t.float().numpy() for t in (want if isinstance(want, (tuple, list)) else (want, ))]
        got = runtime.run(x)
        for name, a, b in zip(names, want, got):
            if a.shape != b.shape:
                raise ValueError(f'output {name}: the ONNX model gives {b.shape}, the torch model {a.shape}')
            max_abs[name] = max(max_abs[name], float(np.abs(a - b).max()))
            peak[name] = max(peak[name], float(np.abs(a).max()))
    img = rng.integers(0, 256, (h + 5, w + 21, 3), dtype=np.uint8)  # sides not multiples of 16
    from mmengine.config import Config
    saved = model.cfg  # the torch model with the export's pipeline ('fit' into the exported size)
    model.cfg = Config(dict(test_dataloader=dict(dataset=dict(pipeline=meta['test_pipeline']))))
    try:
        ref = predict_bottomup(model, img).pred_instances
    finally:
        model.cfg = saved
    out = predict_bottomup(runtime, img).pred_instances
    n_ref, n_out = len(ref.keypoints), len(out.keypoints)
    shift = np.zeros(0)
    if n_ref == n_out and n_ref:
        shift = match_people(np.asarray(ref.keypoints), np.asarray(out.keypoints))
    heat_tol, kpt_tol = TOLERANCES[meta['precision']]
    return BottomupParityReport(meta['precision'], tuple(runtime.providers), tuple(shapes), max_abs, peak, heat_tol,
                                n_ref, n_out, float(np.median(shift)) if shift.size else 0.0,
                                float(shift.max()) if shift.size else 0.0, kpt_tol)


__all__ = ['BottomupParityReport', 'check_parity_bottomup', 'match_people']
