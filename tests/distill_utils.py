"""Helpers of the distillation tests: tiny top-down ViTPose configs, saved models, distillers and batches."""
import copy

import torch
from mmengine.structures import InstanceData, PixelData
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

import vitpose_mm  # noqa: F401  (registers the modules)

PREPROCESSOR = dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                    bgr_to_rgb=True)


def model_cfg(embed=32, keypoints=17, img=(64, 48), heatmap=(12, 16), drop_path=0.1):
    """A tiny top-down ViTPose: 8x8 patches (an 8x6 grid), one deconv (heatmaps at 1/4 of the input)."""
    codec = dict(type='UDPHeatmap', input_size=(img[1], img[0]), heatmap_size=heatmap, sigma=2)
    return dict(
        type='TopdownPoseEstimator',
        data_preprocessor=copy.deepcopy(PREPROCESSOR),
        backbone=dict(type='ViT', img_size=img, patch_size=8, embed_dim=embed, depth=2, num_heads=4, qkv_bias=True,
                      drop_path_rate=drop_path),
        head=dict(type='TopdownHeatmapSimpleHead', in_channels=embed, out_channels=keypoints, num_deconv_layers=1,
                  num_deconv_filters=(16, ), num_deconv_kernels=(4, ), final_layer=dict(kernel_size=1),
                  loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
        test_cfg=dict(flip_test=False))


def save_model(cfg, path, seed=0):
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 1}}, path)
    return str(path)


def distiller(stage=2, teacher=None, student=None, **kw):
    student = student or model_cfg(embed=16)
    args = dict(type='KnowledgeTokenDistiller', stage=stage, teacher=teacher, data_preprocessor=PREPROCESSOR, **kw)
    if stage == 2:
        args.update(backbone=student['backbone'], head=student['head'], test_cfg=student['test_cfg'])
    return MODELS.build(args)


def batch(size=2, keypoints=17, seed=0):
    g = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(size):
        s = PoseDataSample()
        s.gt_fields = PixelData(heatmaps=torch.rand(keypoints, 16, 12, generator=g))
        s.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, keypoints))
        samples.append(s)
    return torch.randn(size, 3, 64, 48, generator=g), samples


def distill_files(root):
    """A teacher checkpoint (32 wide), and stage-1 checkpoints with a 32-wide and a 16-wide token, under ``root``."""
    teacher = dict(config=model_cfg(), checkpoint=save_model(model_cfg(), root / 'teacher.pth'))
    stage1 = distiller(stage=1, teacher=teacher)
    torch.save({'state_dict': stage1.state_dict()}, root / 'stage1.pth')
    torch.save({'state_dict': {'backbone.extra_tokens': torch.randn(1, 1, 16)}}, root / 'token16.pth')
    return dict(root=root, teacher=teacher, stage1=str(root / 'stage1.pth'), token16=str(root / 'token16.pth'))
