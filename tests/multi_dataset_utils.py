"""Helpers of the multi-dataset tests: tiny ViTPose+ models and hand-made data samples of several datasets."""
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData, PixelData
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

import vitpose_mm  # noqa: F401  (registers the modules)
from conftest import ROOT
from random_weights import randomize_
from vitpose_mm.checkpoints import LAYOUTS, from_vitpose_mm

H, W = 64, 48  # a 4x3 grid of 16x16 patches (ViTPose pads the patch convolution by 2)
EMBED = 32
HEATMAP = (8, 6)  # (h, w): one deconv x2 on the 4x3 grid
CODEC = dict(type='UDPHeatmap', input_size=(W, H), heatmap_size=(HEATMAP[1], HEATMAP[0]), sigma=1)
KEYPOINTS = dict(coco=17, aic=14, mpii=16, ap10k=17)
# flip indices of the datasets' mmpose metainfo
FLIP = dict(
    coco=[0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15],
    aic=[3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8, 12, 13],
    mpii=[5, 4, 3, 2, 1, 0, 6, 7, 8, 9, 15, 14, 13, 12, 11, 10],
    ap10k=[1, 0, 2, 3, 4, 8, 9, 10, 5, 6, 7, 14, 15, 16, 11, 12, 13])


def head_cfg(k: int) -> dict:
    return dict(type='TopdownHeatmapSimpleHead', in_channels=EMBED, out_channels=k, num_deconv_layers=1,
                num_deconv_filters=(16, ), num_deconv_kernels=(4, ), final_layer=dict(kernel_size=1),
                loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=CODEC)


def backbone_cfg(num_expert: int, part_features: int) -> dict:
    return dict(type='ViT', img_size=(H, W), patch_size=16, embed_dim=EMBED, depth=2, num_heads=2, qkv_bias=True,
                num_expert=num_expert, part_features=part_features)


def multi_model(heads: Sequence[str] = ('coco', 'aic', 'mpii'), num_expert: Optional[int] = None,
                part_features: int = 8, flip_test: bool = False, seed: int = 1, **kwargs) -> torch.nn.Module:
    """A tiny MultiDatasetTopdownPoseEstimator with random weights that make every tensor matter."""
    init_default_scope('mmpose')
    cfg = dict(type='MultiDatasetTopdownPoseEstimator',
               backbone=backbone_cfg(num_expert or len(heads), part_features),
               heads={name: head_cfg(KEYPOINTS[name]) for name in heads},
               test_cfg=dict(flip_test=flip_test, flip_mode='heatmap', shift_heatmap=False, output_heatmaps=True),
               **kwargs)
    return randomize_(MODELS.build(cfg), seed=seed).eval()


def plain_model(num_keypoints: int, flip_test: bool = False) -> torch.nn.Module:
    """The single-dataset ViTPose a multi-dataset model exports to (no experts, one head)."""
    init_default_scope('mmpose')
    cfg = dict(type='TopdownPoseEstimator', backbone=backbone_cfg(1, 0), head=head_cfg(num_keypoints),
               test_cfg=dict(flip_test=flip_test, flip_mode='heatmap', shift_heatmap=False, output_heatmaps=True))
    return MODELS.build(cfg).eval()


def sample(dataset: str, seed: int = 0, num_keypoints: Optional[int] = None, with_target: bool = True,
           flip_indices: Optional[list] = None) -> PoseDataSample:
    """A data sample of ``dataset`` as PackPoseInputs makes it (metainfo, box; targets for training)."""
    k = num_keypoints or KEYPOINTS[dataset]
    rng = np.random.default_rng(seed)
    if flip_indices is None:
        flip_indices = FLIP[dataset] if num_keypoints is None else list(range(k))
    s = PoseDataSample(metainfo=dict(
        dataset_name=dataset, flip_indices=flip_indices, input_size=(W, H), input_center=np.array([W / 2, H / 2]),
        input_scale=np.array([W, H], dtype=np.float32)))
    s.gt_instances = InstanceData(bboxes=np.array([[0., 0., W, H]]), bbox_scores=np.ones(1))
    if with_target:
        s.gt_fields = PixelData(heatmaps=torch.from_numpy(rng.random((k, *HEATMAP), dtype=np.float32)))
        weights = (rng.random((1, k)) > 0.2).astype(np.float32)
        s.gt_instance_labels = InstanceData(keypoint_weights=torch.from_numpy(weights))
    return s


def batch(datasets: Sequence[str], seed: int = 0) -> Dict[str, object]:
    g = torch.Generator().manual_seed(seed)
    return dict(inputs=torch.randn(len(datasets), 3, H, W, generator=g),
                data_samples=[sample(d, seed=seed + i) for i, d in enumerate(datasets)])


# ---- the six-dataset ViTPose+ config at tiny dims, and its weights in the official names ----
SIX = osp.join(ROOT, 'configs', 'vitpose_plus', 'td-hm_ViTPose-plus-base_8xb128-210e_6datasets-256x192.py')
NAMES = ('coco', 'aic', 'mpii', 'ap10k', 'apt36k', 'coco_wholebody')
TINY = {'model.backbone.embed_dim': 64, 'model.backbone.depth': 2, 'model.backbone.num_heads': 4,
        'model.backbone.part_features': 16, 'model.backbone.init_cfg': None,
        **{f'model.heads.{n}.in_channels': 64 for n in NAMES}}


def build(path: str, options: dict) -> torch.nn.Module:
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(options)
    init_default_scope('mmpose')
    return MODELS.build(cfg.model).eval()


def official_state_dict(model: torch.nn.Module) -> dict:
    """A six-dataset model's weights in the official ViTPose+ names (keypoint_head + associate_keypoint_heads)."""
    sd = {k: v for k, v in model.state_dict().items() if k.startswith('backbone.')}
    for i, name in enumerate(NAMES):
        head = {'head.' + k: v for k, v in model.heads[name].state_dict().items()}
        head = from_vitpose_mm(head, LAYOUTS['official'])
        sd.update({k if i == 0 else k.replace('keypoint_head.', f'associate_keypoint_heads.{i - 1}.'): v
                   for k, v in head.items()})
    sd['backbone.cls_token'] = torch.zeros(1, 1, 64)
    return sd
