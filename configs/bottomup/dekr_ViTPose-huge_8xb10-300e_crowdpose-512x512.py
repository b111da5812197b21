# Bottom-up ViTPose-H on CrowdPose (14 keypoints), 512x512, DEKR head. Model, batch size and optimizer are
# here; codec, losses, pipelines and runtime in ../_base_/bottomup-dekr-coco-512x512.py. CrowdPose settings
# from mmpose 1.3.2 configs/body_2d_keypoint/dekr/crowdpose/dekr_hrnet-w32_8xb10-300e_crowdpose-512x512.py:
# 300 epochs (x0.1 at 200 and 260), displacement loss weight 0.004, CrowdPose AP (crowd index IoU, no area).
_base_ = ['../_base_/bottomup-dekr-coco-512x512.py']

model = dict(
    backbone=dict(
        type='ViT',
        img_size=(512, 512),
        patch_size=16,
        embed_dim=1280,
        depth=32,
        num_heads=16,
        ratio=1,
        use_checkpoint=True,  # gradient checkpointing: 32 blocks x 1024 tokens (docs/bottomup.md, memory)
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.55,
        # MAE's ViT-H/14 (224x224, 14x14 patches, a 16x16 grid): kernel zero-padded to 16x16, pos_embed resampled
        # to 32x32. A top-down ViTPose checkpoint works too (its 16x12 grid is resampled; docs/bottomup.md).
        init_cfg=dict(type='ViTPosePretrained', checkpoint='pretrained/mae_pretrain_vit_huge.pth', patch_padding='pad')),
    neck=dict(in_channels=1280),
    head=dict(
        num_keypoints=14,
        displacement_loss=dict(loss_weight=0.004)))

dataset_type = 'CrowdPoseDataset'
data_root = 'data/crowdpose/'
train_cfg = dict(max_epochs=300, val_interval=20)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=300, milestones=[200, 260], gamma=0.1, by_epoch=True),
]
train_dataloader = dict(
    batch_size=10,  # per GPU; 8 GPUs -> 80 (mmpose's DEKR)
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/mmpose_crowdpose_trainval.json',
        data_prefix=dict(img='images/')))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/mmpose_crowdpose_test.json',
        data_prefix=dict(img='images/')))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True, type='CocoMetric', ann_file=data_root + 'annotations/mmpose_crowdpose_test.json',
    nms_mode='none', score_mode='keypoint', use_area=False, iou_type='keypoints_crowd', prefix='crowdpose')
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='crowdpose/AP'))

optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=32, layer_decay_rate=0.85),
    clip_grad=dict(max_norm=1., norm_type=2))
