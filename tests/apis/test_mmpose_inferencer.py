"""Every shipped top-down config works in mmpose's own MMPoseInferencer (random weights, one image).

The configs are found by globbing configs/ (so configs added later are covered): a config is a top-down pose config
when its model is a TopdownPoseEstimator (or a subclass) that builds from the config alone (distillers, which load
teacher and token checkpoints when built, are left out). Each runs through MMPoseInferencer on one image with the
whole image as the person box, and must give the keypoints that mmpose's inference_topdown gives with the same model
and box. What is tested is the config plumbing (data_mode, dataset metainfo, pipeline, codec, head, flip test), so
the COCO-scale configs (ViT-S/B/L/H, width >= 384) run with a narrow, shallow ViT (1 block, width 64; the head's
in_channels follow) and everything else as shipped (input size, patch grid, head layers, pipeline, codec, test_cfg):
with random weights on this shared 2-core CPU, the full ViT-B config alone took about 30 s to build and run, and
ViT-H at 2 blocks 12 s. The demo-scale configs run as shipped.
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
BIG_WIDTH = 384  # ViT-S and wider: built with SMALL_VIT
SMALL_VIT = dict(depth=1, embed_dim=64, num_heads=2)


def _is_topdown(cfg: Config) -> bool:
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model_type = MODELS.get(cfg.model.type)
    needs_checkpoints = 'teacher' in cfg.model or 'knowledge_token' in cfg.model
    # multi-dataset (ViTPose+) models have one head per dataset, while mmpose's inferencer and demo scripts drive one
    # head and one dataset: they run a model exported for one dataset (tools/export_dataset.py, docs/vitpose_plus.md)
    multi_dataset = 'heads' in cfg.model
    return isinstance(model_type, type) and issubclass(model_type, TopdownPoseEstimator) and not needs_checkpoints \
        and not multi_dataset


def _load(path: str) -> Config:
    import vitpose_mm  # noqa: F401  (registers the package's types, as custom_imports does)
    return Config.fromfile(path)


TOPDOWN = [c for c in LEAVES if _is_topdown(_load(c))]


def test_topdown_configs_found():
    assert len(TOPDOWN) >= 14  # 8 COCO, the demo, 3 distillation students and 2 demo students and the demo teacher


@pytest.mark.parametrize('path', LEAVES, ids=[osp.relpath(c, osp.join(ROOT, 'configs')) for c in LEAVES])
def test_every_topdown_config_declares_data_mode_and_dataset_type(path):
    """mmpose's inferencer and demo scripts read the top-level data_mode and dataset_type."""
    cfg = _load(path)
    if cfg.get('test_dataloader') is None:
        pytest.skip('a pre-training config (MAE): no pose model, no test data')
    if cfg.test_dataloader.dataset.get('data_mode', 'topdown') != 'topdown':
        pytest.skip('not a top-down config')
    if 'heads' in cfg.model:
        assert cfg.get('data_mode') == 'topdown'
        pytest.skip('multi-dataset config: no single dataset_type (one is exported with tools/export_dataset.py)')
    assert cfg.get('data_mode') == 'topdown'
    assert DATASETS.get(cfg.dataset_type) is not None


@pytest.mark.parametrize('path', TOPDOWN, ids=[osp.relpath(c, osp.join(ROOT, 'configs')) for c in TOPDOWN])
def test_mmpose_inferencer_runs_the_config(path):
    cfg = _load(path)
    if cfg.model.backbone.get('embed_dim', 0) >= BIG_WIDTH:
        cfg.model.backbone.update(SMALL_VIT)
        if cfg.model.backbone.get('global_blocks'):  # full + window: keep the blocks the config names
            cfg.model.backbone.depth = max(cfg.model.backbone.global_blocks) + 1
        cfg.model.head.in_channels = SMALL_VIT['embed_dim']
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
