"""The people table of ``tools/benchmark.py``: time per image as the number of people grows, bottom-up vs top-down.

Top-down ViTPose runs one crop per person box (all crops as one batch), so its cost grows with the people; a bottom-up
ViTPose runs the whole image once, then groups. Both go through :class:`vitpose_mm.apis.PoseEstimator` (image in,
people out: pipeline, network, decoding), fp32, no flip test, random weights (seed 0), on the same 640x480 image; the
top-down estimator gets N person boxes. A pair is one ViT size: the tiny demo (192-d, 6 blocks; the top-down demo at
128x96 crops against the bottom-up demo config, associative embedding at 160x128) and ViT-B (256x192 crops against
the bottom-up DEKR COCO config at 512x512). With random weights the bottom-up head decodes the same candidates whatever N is (up to its
``max_instances``), so its row shows the network and a full decoding at every N.
"""
import glob
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch

from .timing import time_calls

IMAGE_HW = (480, 640)
# size -> (top-down config name, bottom-up config file pattern under configs/bottomup/): the demos (ViT 192-d, 6
# blocks; the bottom-up one an associative-embedding head at 160x128) and ViT-B (DEKR head, COCO 512x512)
PEOPLE_PAIRS: Dict[str, Tuple[str, str]] = {
    'tiny': ('td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96.py', 'demo/bottomup_ViTPose-tiny_*synthetic*.py'),
    'B': ('td-hm_ViTPose-base_8xb64-210e_coco-256x192.py', 'dekr_ViTPose-base_*coco-512x512.py'),
}


def bottomup_config(pattern: str) -> str:
    """The shipped bottom-up config matching ``pattern`` (the first by name).

    Raises:
        FileNotFoundError: none matches (the message names the pattern and the folder).
    """
    from vitpose_mm.utils import configs_dir
    folder = osp.join(configs_dir(), 'bottomup')
    found = sorted(glob.glob(osp.join(folder, pattern)))
    if not found:
        raise FileNotFoundError(f'no bottom-up config {pattern} in {folder}')
    return found[0]


def build_people_estimator(config: str, device: torch.device):
    """:class:`PoseEstimator` of ``config``: random weights (seed 0, pre-training ``init_cfg`` dropped), fp32, no
    flip test, every person kept (``person_thr=-inf``: the decoding cost of all candidates counts)."""
    from mmengine.config import Config
    from mmpose.apis import init_model

    from vitpose_mm.apis import PoseEstimator
    from vitpose_mm.utils import find_config
    cfg = Config.fromfile(find_config(config))
    cfg.model.backbone.pop('init_cfg', None)
    cfg.model.setdefault('test_cfg', {})['flip_test'] = False
    torch.manual_seed(0)
    return PoseEstimator(init_model(cfg, None, device=str(device)), precision='fp32', person_thr=float('-inf'))


def person_boxes(n: int, seed: int = 1) -> np.ndarray:
    """``n`` xyxy + score person boxes inside the 640x480 image (seeded)."""
    rng = np.random.default_rng(seed)
    h, w = IMAGE_HW
    x1, y1 = rng.uniform(0, 0.5 * w, n), rng.uniform(0, 0.5 * h, n)
    bw, bh = rng.uniform(0.15 * w, 0.45 * w, n), rng.uniform(0.3 * h, 0.5 * h, n)
    return np.stack([x1, y1, x1 + bw, y1 + bh, np.ones(n)], axis=1).astype(np.float32)


def people_bottomup_vs_topdown(sizes: Sequence[str], people: Sequence[int], reps: int, device: torch.device,
                               bar=None) -> List[dict]:
    """Milliseconds per image of the top-down and the bottom-up estimator of each size, for each number of people;
    repetitions interleaved over every (size, estimator, people) so that load drift hits all alike.

    Returns:
        one dict per (size, people): ``size``, ``people``, ``topdown_ms``, ``bottomup_ms`` (medians),
        ``ratio`` (bottom-up / top-down, median of the per-repetition ratios), the two config names.

    Raises:
        ValueError: an unknown size (the accepted ones listed). FileNotFoundError: a bottom-up config is missing.
    """
    for size in sizes:
        if size not in PEOPLE_PAIRS:
            raise ValueError(f'unknown people-table size {size!r}; accepted: {list(PEOPLE_PAIRS)}')
    img = np.random.default_rng(0).integers(0, 256, (*IMAGE_HW, 3), dtype=np.uint8)
    estimators, configs = {}, {}
    for size in sizes:
        td, pattern = PEOPLE_PAIRS[size]
        bu = bottomup_config(pattern)
        configs[size] = (td, osp.basename(bu))
        estimators[size] = (build_people_estimator(td, device), build_people_estimator(bu, device))
    calls = {(size, kind, n): (lambda e=estimators[size][i], n=n, kind=kind: e(img, person_boxes(n))
                               if kind == 'topdown' else e(img))
             for size in sizes for i, kind in enumerate(('topdown', 'bottomup')) for n in people}
    for call in calls.values():  # warm-up
        call()
    times: Dict[tuple, List[float]] = {key: [] for key in calls}
    for rep in range(reps):
        keys = list(calls) if rep % 2 == 0 else list(calls)[::-1]
        for key in keys:
            if bar is not None:
                bar.set_postfix_str(f'{key[0]} {key[1]} {key[2]} people')
            times[key] += time_calls(calls[key], 1, device)
        if bar is not None:
            bar.update(1)
    rows = []
    for size in sizes:
        for n in people:
            td, bu = times[(size, 'topdown', n)], times[(size, 'bottomup', n)]
            rows.append(dict(size=size, people=n, topdown_ms=1e3 * float(np.median(td)),
                             bottomup_ms=1e3 * float(np.median(bu)),
                             ratio=float(np.median([b / t for b, t in zip(bu, td)])),
                             topdown_config=configs[size][0], bottomup_config=configs[size][1]))
    return rows


def people_markdown(rows: List[dict], target: float = 0.25) -> List[str]:
    """The table's markdown lines (empty without rows), and each size's verdict at its largest number of people."""
    if not rows:
        return []
    lines = ['', '## People per image: bottom-up vs top-down (PoseEstimator, fp32, no flip test, random weights)',
             '', '| size | people | top-down ms / image | bottom-up ms / image | bottom-up / top-down |',
             '|---|---|---|---|---|']
    lines += [f"| {r['size']} | {r['people']} | {r['topdown_ms']:,.1f} | {r['bottomup_ms']:,.1f} | {r['ratio']:.2f} |"
              for r in rows]
    lines.append('')
    for size in dict.fromkeys(r['size'] for r in rows):
        last = max((r for r in rows if r['size'] == size), key=lambda r: r['people'])
        verdict = 'meets' if last['ratio'] <= target else 'misses'
        lines.append(f"- {size} ({last['topdown_config']} vs {last['bottomup_config']}): with {last['people']} "
                     f"people bottom-up costs {last['ratio']:.2f} of top-down ({verdict} the target <= {target:g})")
    return lines


__all__ = ['PEOPLE_PAIRS', 'IMAGE_HW', 'bottomup_config', 'build_people_estimator', 'person_boxes',
           'people_bottomup_vs_topdown', 'people_markdown']
