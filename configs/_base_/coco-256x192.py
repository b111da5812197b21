# ViTPose on COCO, 256x192, the official recipe (ViTAE-Transformer/ViTPose configs, ported to mmpose 1.x):
# data, pipelines, evaluation, schedule and runtime. Leaf configs add the backbone and head, the batch size and
# the optimizer (learning rate, layer decay).
custom_imports = dict(imports=['vitpose_mm'], allow_failed_imports=False)
default_scope = 'mmpose'
runner_type = 'ViTPoseRunner'  # strict checkpoint loading (vitpose_mm/engine/runner.py)

# ---- schedule: 210 epochs, 500-iter linear warm-up, x0.1 at epochs 170 and 200 ----------------------------
train_cfg = dict(by_epoch=True, max_epochs=210, val_interval=10)
val_cfg = dict()
test_cfg = dict()
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=210, milestones=[170, 200], gamma=0.1, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=512)  # 8 GPUs x 64

# ---- model parts shared by every size: codec, loss, flip test ---------------------------------------------
codec = dict(type='UDPHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
model = dict(
    type='BatchFlipTopdownPoseEstimator',  # mmpose's TopdownPoseEstimator + test_cfg.batch_flip
    data_preprocessor=dict(
        type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    head=dict(loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=False))

# ---- data -------------------------------------------------------------------------------------------------
dataset_type = 'CocoDataset'
data_mode = 'topdown'
data_root = 'data/coco/'
backend_args = dict(backend='local')
train_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    # official: scale factor 0.5, rotation factor 40 (prob 0.6), no shift
    dict(type='RandomBBoxTransform', shift_prob=0., scale_factor=(0.5, 1.5), rotate_factor=40.),
    dict(type='TopdownAffine', input_size=codec['input_size'], use_udp=True),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size'], use_udp=True),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=4,
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
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_val2017.json',
        # person boxes of a detector with 56.4 AP, as the published numbers are measured
        bbox_file=data_root + 'person_detection_results/COCO_val2017_detections_AP_H_56_person.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val2017.json')
test_evaluator = val_evaluator

# ---- runtime ----------------------------------------------------------------------------------------------
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=10, save_best='coco/AP', rule='greater', max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='PoseVisualizationHook', enable=False))
# SyncBuffersHook: BatchNorm statistics of rank 0 to every rank after each epoch (data-parallel training);
# EpochSeedHook: each epoch seeded from (seed, epoch, rank), so that `--resume` repeats an uninterrupted run exactly.
custom_hooks = [dict(type='SyncBuffersHook'), dict(type='EpochSeedHook')]
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='PoseLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True, num_digits=6)
log_level = 'INFO'
load_from = None
resume = False
