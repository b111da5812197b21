"""Tiny models for the inference tests: the demo ViTPose and a real mmdet detector (RTMDet-nano, person only)."""
import os.path as osp

import mmpose
import torch
import torch.nn as nn

POSE_CONFIG = 'td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96.py'  # ViT 192-d, 6 blocks, 128x96 input
# mmpose's own person detector config for its demos: RTMDet-nano, 320x320 input, one class
DET_CONFIG = osp.join(osp.dirname(mmpose.__file__), '.mim', 'demo', 'mmdetection_cfg',
                      'rtmdet_nano_320-8xb32_coco-person.py')


def build_pose_model():
    from mmpose.apis import init_model

    from vitpose_mm.utils import find_config
    return init_model(find_config(POSE_CONFIG), None, device='cpu')


def build_detector(cfg_options=None):
    from mmdet.apis import init_detector
    from mmpose.utils import adapt_mmdet_pipeline
    detector = init_detector(DET_CONFIG, None, device='cpu', cfg_options=cfg_options)
    detector.cfg = adapt_mmdet_pipeline(detector.cfg)
    return detector


@torch.no_grad()
def make_confident(detector: nn.Module, half_size: float = 4.0, logit: float = 3.0) -> nn.Module:
    """Random RTMDet whose outputs no longer depend on the image: at every anchor point of the coarsest level
    (stride 32) a person box of 2 x ``half_size`` strides, scored sigmoid(``logit``); the finer levels find nothing.
    (Randomly initialised heads give sub-pixel boxes everywhere.)"""
    head = detector.bbox_head
    for level, (cls_conv, reg_conv) in enumerate(zip(head.rtm_cls, head.rtm_reg)):
        cls_conv.weight.zero_()
        cls_conv.bias.fill_(logit if level == len(head.rtm_cls) - 1 else -20.0)
        reg_conv.weight.zero_()
        reg_conv.bias.fill_(half_size)  # exp_on_reg=False: distance = output x stride
    return detector


def save_pose_checkpoint(path: str) -> str:
    torch.save({'state_dict': build_pose_model().state_dict(), 'meta': {}}, path)
    return path


def save_detector_checkpoint(path: str) -> str:
    detector = make_confident(build_detector())
    torch.save({'state_dict': detector.state_dict(), 'meta': {'dataset_meta': {'classes': ('person', )}}}, path)
    return path
