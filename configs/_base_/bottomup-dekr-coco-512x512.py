# Bottom-up ViTPose on COCO, 512x512 inputs (a 32x32 patch grid), DEKR head: data, pipelines, codec, losses,
# evaluation, schedule and runtime. Leaf configs add the backbone, the neck's input channels, the batch size and the
# optimizer (learning rate, layer decay).
# Recipe source: mmpose 1.3.2 configs/body_2d_keypoint/dekr/coco/dekr_hrnet-w32_8xb10-140e_coco-512x512.py for the
# codec (SPR), DEKRHead and its losses, the pipelines (BottomupRandomAffine, flip, BottomupGetHeatmapMask,
# BottomupResize), the 140-epoch schedule with x0.1 at epochs 90 and 120, the batch of 8x10, the test settings and
# CocoMetric. ViTPose's own (ViTPose paper, section 4.1; official top-down configs): AdamW with layer-wise decay,
# gradient clipping, drop path, MAE initialisation, and the classic decoder's two deconvolution blocks (here a neck
# that feeds the head). ViTPose++ (TPAMI 2023) describes the bottom-up decoder only qualitatively and released
# nothing: the pairing of ViT, deconv neck and DEKR head is this package's choice. Not trained here (no COCO, no GPU).
# mmpose's COCO rescore net (kpt_rescore_coco-33d58c5c.pth) is not used: it is trained on HRNet's outputs.
custom_imports = dict(imports=['vitpose_mm'], allow_failed_imports=False)
default_scope = 'mmpose'
runner_type = 'ViTPoseRunner'  # strict checkpoint loading (vitpose_mm/engine/runner.py)

# ---- schedule: 140 epochs, 500-iter linear warm-up, x0.1 at epochs 90 and 120 (mmpose's DEKR) ---------------
train_cfg = dict(by_epoch=True, max_epochs=140, val_interval=10)
val_cfg = dict()
test_cfg = dict()
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=140, milestones=[90, 120], gamma=0.1, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=80)  # 8 GPUs x 10

# ---- model parts shared by every size: codec, head, losses, test settings ---------------------------------
codec = dict(
    type='SPR',
    input_size=(512, 512),
    heatmap_size=(128, 128),
    sigma=(4, 2),
    minimal_diagonal_length=32**0.5,
    generate_keypoint_heatmaps=True,
    decode_max_instances=30)
model = dict(
    type='BottomupPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
        pad_size_divisor=32),  # bottom/right padding to whole patches; image coordinates stay as they are
    neck=dict(type='DeconvUpsampleNeck', out_channels=(256, 256), kernel_sizes=(4, 4)),  # 1/16 -> 1/4
    head=dict(
        type='DEKRHead',
        in_channels=256,
        num_keypoints=17,
        heatmap_loss=dict(type='KeypointMSELoss', use_target_weight=True),
        displacement_loss=dict(
            type='SoftWeightSmoothL1Loss', use_target_weight=True, supervise_empty=False, beta=1 / 9,
            loss_weight=0.002),
        decoder=codec),
    test_cfg=dict(multiscale_test=False, flip_test=True, nms_dist_thr=0.05, shift_heatmap=True,
                  align_corners=False))

# ---- data -------------------------------------------------------------------------------------------------
dataset_type = 'CocoDataset'
data_mode = 'bottomup'
data_root = 'data/coco/'
backend_args = dict(backend='local')
train_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='BottomupRandomAffine', input_size=codec['input_size']),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='BottomupGetHeatmapMask'),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='BottomupResize', input_size=codec['input_size'], size_factor=32, resize_mode='expand'),
    dict(type='PackPoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'crowd_index', 'ori_shape', 'img_shape', 'input_size',
                    'input_center', 'input_scale', 'flip', 'flip_direction', 'flip_indices', 'raw_ann_info',
                    'skeleton_links')),
]
train_dataloader = dict(
    batch_size=10,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,  # mmpose's bottom-up heads decode one image at a time
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val2017.json',
                     nms_mode='none', score_mode='keypoint')
test_evaluator = val_evaluator

# ---- runtime ----------------------------------------------------------------------------------------------
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=10, save_best='coco/AP', rule='greater', max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='PoseVisualizationHook', enable=False))
custom_hooks = [dict(type='SyncBuffersHook'), dict(type='EpochSeedHook')]
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='PoseLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True, num_digits=6)
log_level = 'INFO'
load_from = None
resume = False
