"""A tiny bottom-up ViTPose for the inference tests, and an oracle head that "sees" known people.

The config (tests/fixtures/bottomup/) is the package's ViT (64-d, 2 blocks) + mmpose's FeatureMapProcessor (x4) +
mmpose's DEKRHead/SPR codec, random weights. ``oracle_maps`` encodes known people with the model's own codec (SPR)
into the maps the head's ``forward`` would give, so that everything after the network (mmpose's pipeline, the head's
decoding, the mapping back to the image, ``PoseEstimator``) is checked against known keypoints.
"""
import os.path as osp

import numpy as np
import torch

from conftest import ROOT

BU_CONFIG = osp.join(ROOT, 'tests', 'fixtures', 'bottomup', 'bu-dekr_ViT-tiny_synthetic-64x64.py')


def build_bottomup_model(**test_cfg):
    from mmengine.config import Config
    from mmpose.apis import init_model
    cfg = Config.fromfile(BU_CONFIG)
    cfg.model.test_cfg.update(test_cfg)
    torch.manual_seed(0)
    return init_model(cfg, None, device='cpu')


def save_bottomup_checkpoint(path: str) -> str:
    torch.save({'state_dict': build_bottomup_model().state_dict(), 'meta': {}}, path)
    return path


def input_meta(model, img: np.ndarray) -> dict:
    """The test pipeline's ``input_size``, ``input_center``, ``input_scale`` for ``img`` (what the model sees)."""
    from mmcv.transforms import Compose
    data = Compose(model.cfg.test_dataloader.dataset.pipeline)(dict(img=img.copy()))
    return data['data_samples'].metainfo


def to_input_space(keypoints: np.ndarray, meta: dict) -> np.ndarray:
    """Image pixels -> the model input's pixels (the inverse of ``BottomupPoseEstimator.add_pred_to_datasample``)."""
    size, center, scale = (np.asarray(meta[k], np.float32) for k in ('input_size', 'input_center', 'input_scale'))
    return (keypoints - center + 0.5 * scale) / scale * size


def oracle_maps(model, img: np.ndarray, keypoints: np.ndarray):
    """The (heatmaps, displacements) the DEKR head gives for people with ``keypoints`` (N, K, 2) in image pixels."""
    from mmpose.registry import KEYPOINT_CODECS
    meta = input_meta(model, img)
    # the codec at the size the model really sees ('expand' resize): same input/heatmap ratio as the config's
    cfg = dict(model.cfg.model.head.decoder)
    ratio = np.asarray(cfg['input_size']) / np.asarray(cfg['heatmap_size'])
    cfg.update(input_size=tuple(int(v) for v in meta['input_size']),
               heatmap_size=tuple(int(v) for v in np.asarray(meta['input_size']) // ratio))
    codec = KEYPOINT_CODECS.build(cfg)
    kpts = to_input_space(keypoints, meta)
    target = codec.encode(kpts, np.ones(kpts.shape[:2], np.float32))
    return (torch.from_numpy(target['heatmaps'])[None].float(),
            torch.from_numpy(target['displacements'])[None].float())


def use_oracle(model, img: np.ndarray, keypoints: np.ndarray):
    """Make ``model.head.forward`` answer ``oracle_maps`` whatever its input (use without flip test)."""
    maps = oracle_maps(model, img, keypoints)
    model.head.forward = lambda feats: maps
    return model


def two_people(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(2, 17, 2) keypoints of two people side by side inside an h x w image."""
    rng = np.random.default_rng(seed)
    people = []
    for cx in (0.28 * w, 0.72 * w):
        xs = cx + rng.uniform(-0.12, 0.12, 17) * w
        ys = rng.uniform(0.15, 0.85, 17) * h
        people.append(np.stack([xs, ys], axis=1))
    return np.stack(people).astype(np.float32)
