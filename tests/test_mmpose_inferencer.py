"""Every shipped top-down config works in mmpose's own MMPoseInferencer (random weights, one image).

The configs are found by globbing configs/ (so configs added later are covered): a config is a top-down pose config
when its model is a TopdownPoseEstimator (or a subclass). Each runs through MMPoseInferencer on one image with the
whole image as the person box, and must give the keypoints that mmpose's inference_topdown gives with the same model
and box. ViT-L and ViT-H configs run with depth 2 (their width, grid, head and pipeline as shipped): the full models
take minutes to build with random weights on a CPU.
"""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from conftest import ROOT
from mmpose.apis import MMPoseInferencer, inference_topdown
from mmpose.models import TopdownPoseEstimator
from mmpose.registry import DATASETS, MODELS

LEAVES = sorted(c for c in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True) if '_base_' not in c)
REDUCED_DEPTH = 2
BIG_WIDTH = 1024  # ViT-L and wider: built with REDUCED_DEPTH blocks


def _is_topdown(cfg: Config) -> bool:
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model_type = MODELS.get(cfg.model.type)
    return isinstance(model_type, type) and issubclass(model_type, TopdownPoseEstimator)


def _load(path: str) -> Config:
    import vitpose_mm  # noqa: F401  (registers the package's types, as custom_imports does)
    return Config.fromfile(path)


TOPDOWN = [c for c in LEAVES if _is_topdown(_load(c))]


def test_topdown_configs_found():
    assert len(TOPDOWN) >= 12  # 8 COCO, the demo, the distillation students and teacher


@pytest.mark.parametrize('path', LEAVES, ids=[osp.relpath(c, osp.join(ROOT, 'configs')) for c in LEAVES])
def test_every_topdown_config_declares_data_mode_and_dataset_type(path):
    """mmpose's inferencer and demo scripts read the top-level data_mode and dataset_type."""
    cfg = _load(path)
    if cfg.test_dataloader.dataset.get('data_mode', 'topdown') != 'topdown':
        pytest.skip('not a top-down config')
    assert cfg.get('data_mode') == 'topdown'
    assert DATASETS.get(cfg.dataset_type) is not None


@pytest.mark.parametrize('path', TOPDOWN, ids=[osp.relpath(c, osp.join(ROOT, 'configs')) for c in TOPDOWN])
def test_mmpose_inferencer_runs_the_config(path):
    cfg = _load(path)
    if cfg.model.backbone.get('embed_dim', 0) >= BIG_WIDTH:
        cfg.model.backbone.depth = REDUCED_DEPTH
    cfg.model.backbone.pop('init_cfg', None)  # random weights: no MAE file
    torch.manual_seed(0)
    inferencer = MMPoseInferencer(pose2d=cfg, device='cpu', det_model='whole_image')
    img = np.random.default_rng(0).integers(0, 256, (96, 80, 3), dtype=np.uint8)
    result = next(inferencer(img, return_vis=False))
    people = result['predictions'][0]
    assert len(people) == 1
    keypoints = np.array(people[0]['keypoints'])
    num_keypoints = cfg.model.head.out_channels
    assert keypoints.shape == (num_keypoints, 2) and np.isfinite(keypoints).all()
    model = inferencer.inferencer.model
    expected = inference_topdown(model, img, np.array([[0, 0, 80, 96]], np.float32))[0].pred_instances.keypoints[0]
    np.testing.assert_allclose(keypoints, expected, rtol=0, atol=1e-4)
    assert keypoints.std() > 0.5  # not all in one place
