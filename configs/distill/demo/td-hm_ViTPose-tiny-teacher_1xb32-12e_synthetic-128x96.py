# The teacher of the distillation demo (docs/distillation.md): the demo's tiny ViTPose (ViT 192-d, 6 blocks, 16x16
# patches -> an 8x6 grid, classic decoder of 128 channels) trained from scratch for 12 epochs on the synthetic people
# of `python tools/make_synthetic_data.py data/synthetic`. It is kept here, apart from configs/demo/, so that the
# distillation configs and the teacher checkpoint they name stay in step when the demo changes; a demo checkpoint
# with the same architecture can be the teacher too (the distiller refuses one that does not fit, naming the file).
# No horizontal flips (neither augmentation nor flip test): the synthetic people wear their side as a colour
# (left limbs red-orange, right limbs blue), a cue that a mirrored image would contradict.
# Everything is in this one file: model, batch size, learning rate, schedule, data and runtime.
custom_imports = dict(imports=['vitpose_mm'], allow_failed_imports=False)
default_scope = 'mmpose'
runner_type = 'ViTPoseRunner'

# ---- schedule ---------------------------------------------------------------------------------------------
max_epochs = 12
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=6, layer_decay_rate=1.0),  # from scratch: no decay
    clip_grad=dict(max_norm=1., norm_type=2))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs, eta_min=1e-5, by_epoch=True),
]

# ---- model ------------------------------------------------------------------------------------------------
codec = dict(type='UDPHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=2)
model = dict(
    type='BatchFlipTopdownPoseEstimator',  # mmpose's TopdownPoseEstimator + test_cfg.batch_flip
    data_preprocessor=dict(
        type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        type='ViT',
        img_size=(128, 96),
        patch_size=16,
        embed_dim=192,
        depth=6,
        num_heads=6,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.05),
    head=dict(
        type='TopdownHeatmapSimpleHead',
        in_channels=192,
        out_channels=17,
        num_deconv_layers=2,
        num_deconv_filters=(128, 128),
        num_deconv_kernels=(4, 4),
        final_layer=dict(kernel_size=1),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=False))

# ---- data -------------------------------------------------------------------------------------------------
data_root = 'data/synthetic/'
dataset_type = 'CocoDataset'
data_mode = 'topdown'  # read by mmpose's inferencer and demo scripts
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomBBoxTransform', shift_prob=0., scale_factor=(0.75, 1.25), rotate_factor=20.),
    dict(type='TopdownAffine', input_size=codec['input_size'], use_udp=True),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size'], use_udp=True),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_train.json',
        data_prefix=dict(img='train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val.json')
test_evaluator = val_evaluator

# ---- runtime ----------------------------------------------------------------------------------------------
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='PoseVisualizationHook', enable=False))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='PoseLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True, num_digits=6)
log_level = 'INFO'
load_from = None
resume = False
