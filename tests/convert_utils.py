"""Helpers of the checkpoint-conversion tests: small vitpose_mm models built from the shipped configs, decoding."""
from typing import Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import vitpose_mm  # noqa: F401  (registers the modules)
from conftest import ROOT, load_tool  # noqa: F401  (ROOT: for the tests that import it from here)
from vitpose_mm.utils import find_config

# Small dims with the real 256x192 input and 16x12 grid: the layouts do not depend on width or depth.
TINY = dict(embed_dim=64, depth=2, num_heads=4)
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def tiny_options(simple: bool = False, **extra) -> dict:
    """``--cfg-options`` turning a shipped ViTPose-B config into a tiny one (what a user passes for own dims)."""
    opts = {f'model.backbone.{k}': v for k, v in TINY.items()}
    opts.update({'model.head.in_channels': TINY['embed_dim'], 'model.backbone.init_cfg': None,
                 'optim_wrapper.paramwise_cfg.num_layers': TINY['depth']})
    opts.update(extra)
    return opts


def config_name(simple: bool = False) -> str:
    return f'td-hm_ViTPose-base{"-simple" if simple else ""}_8xb64-210e_coco-256x192'


def load_config(simple: bool = False, options: Optional[dict] = None) -> Config:
    cfg = Config.fromfile(find_config(config_name(simple)))
    cfg.merge_from_dict(tiny_options(simple) if options is None else options)
    return cfg


def build_model(simple: bool = False, options: Optional[dict] = None) -> torch.nn.Module:
    cfg = load_config(simple, options)
    init_default_scope('mmpose')
    return MODELS.build(cfg.model).eval()


def independent_resample(pos: torch.Tensor, src, dst) -> torch.Tensor:
    """The position-grid reference: row 1 + i * w + j is patch (i, j): reshape to (h, w), interpolate (bicubic,
    ``align_corners=False``), flatten; the class row stays."""
    import torch.nn.functional as F
    grid = pos[0, 1:].reshape(src[0], src[1], -1).permute(2, 0, 1)[None]
    out = F.interpolate(grid, size=dst, mode='bicubic', align_corners=False)[0]
    return torch.cat([pos[0, :1], out.permute(1, 2, 0).reshape(dst[0] * dst[1], -1)])[None]


def heatmaps(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x, None, mode='tensor')


def predict_heatmaps(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """The flip-test heatmaps (B, K, H, W) that ``model.predict`` decodes (flip test as the configs set it)."""
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample
    h, w = x.shape[-2:]
    samples = []
    for _ in range(x.shape[0]):
        s = PoseDataSample(metainfo=dict(input_size=(w, h), input_center=np.array([w / 2, h / 2]),
                                         input_scale=np.array([w, h], dtype=np.float32), flip_indices=COCO_FLIP))
        s.gt_instances = InstanceData(bboxes=np.array([[0., 0., w, h]]), bbox_scores=np.ones(1))
        samples.append(s)
    model.test_cfg['output_heatmaps'] = True
    with torch.no_grad():
        out = model.predict(x, samples)
    return np.stack([o.pred_fields.heatmaps.numpy() for o in out])


def compare_decoded(want: np.ndarray, got: np.ndarray, input_size=(192, 256)) -> dict:
    """Decode two batches of heatmaps with the configs' codec (UDP, DARK refinement) and compare.

    On random-weight heatmaps DARK's refinement (log of the blurred heatmap, inverse Hessian) is often
    ill-conditioned: there it moves keypoints by many pixels and magnifies 1e-7 heatmap differences. The coordinate
    comparison therefore covers the keypoints where the reference refinement stays within one heatmap pixel of the
    maximum, the regime it is made for; the maximum positions and the scores are compared for every keypoint.
    """
    from mmpose.codecs import UDPHeatmap
    from mmpose.codecs.utils import get_heatmap_maximum
    h, w = want.shape[-2:]
    codec = UDPHeatmap(input_size=input_size, heatmap_size=(w, h), sigma=2)
    kw, sw = zip(*[codec.decode(x.copy()) for x in want])
    kg, sg = zip(*[codec.decode(x.copy()) for x in got])
    kw, kg, sw, sg = (np.concatenate(v) for v in (kw, kg, sw, sg))
    mg = np.stack([get_heatmap_maximum(x)[0] for x in got])
    m = keypoint_diff(kw, kg, want, input_size)
    m.update(maxima_equal=bool((m.pop('maxima') == mg).all()), score_diff=float(np.abs(sw - sg).max()))
    return m


def keypoint_diff(kw: np.ndarray, kg: np.ndarray, want_heatmaps: np.ndarray, input_size=(192, 256)) -> dict:
    """Largest coordinate difference (input pixels) over the keypoints whose reference refinement stays within one
    heatmap pixel of the heatmap maximum (UDP scaling), and over all keypoints."""
    from mmpose.codecs.utils import get_heatmap_maximum
    h, w = want_heatmaps.shape[-2:]
    maxima = np.stack([get_heatmap_maximum(x)[0] for x in want_heatmaps])
    px = np.array(input_size) / [w - 1, h - 1]
    conditioned = np.abs(kw - maxima * px).max(-1) < px.max()
    diff = np.abs(kw - kg).max(-1)
    return dict(keypoint_diff_px=float(diff[conditioned].max()) if conditioned.any() else float('nan'),
                keypoint_diff_px_all=float(diff.max()), conditioned=int(conditioned.sum()), total=diff.size,
                maxima=maxima)


def assert_same_decoding(want: np.ndarray, got: np.ndarray, input_size=(192, 256)) -> dict:
    m = compare_decoded(want, got, input_size)
    assert m['maxima_equal'], m
    assert m['score_diff'] <= 1e-5, m
    assert m['conditioned'] >= max(4, m['total'] // 8), m  # enough keypoints for the check to mean something
    assert m['keypoint_diff_px'] / max(input_size) <= 1e-5, m
    return m


def run_tool(argv, capsys):
    """tools/convert_checkpoint.py main(argv) in this process: (exit code, stdout, stderr)."""
    code = load_tool('convert_checkpoint').main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err
