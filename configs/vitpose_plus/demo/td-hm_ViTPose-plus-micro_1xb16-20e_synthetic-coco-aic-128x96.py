# The multi-dataset demo, run (c): one micro ViT with an expert per dataset (24 of its 96 channels) and one head per
# dataset, trained jointly on two synthetic datasets with different keypoint definitions, written by
# `python tools/make_synthetic_multi_data.py data/synthetic_multi --num-train 200 --num-train-aic 60`: COCO-17 people
# (CocoDataset, 200 images) and fewer other people labelled AI-Challenger-style with 14 keypoints (AicDataset, 60
# images; scored with CrowdPose's sigmas for those keypoints: configs/_base_/datasets/synthetic_aic.py). Model and pipeline are those of the distillation
# demo's micro student (configs/distill/demo/td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py; no horizontal flips,
# since the synthetic people wear their side as a colour), with batches of 16 for 20 epochs. Run (b), joint without
# experts, is td-hm_ViTPose-micro-joint_...; runs (a), each dataset alone, are the *-only configs next to this one.
custom_imports = dict(imports=['vitpose_mm'], allow_failed_imports=False)
default_scope = 'mmpose'
runner_type = 'ViTPoseRunner'

# ---- schedule ---------------------------------------------------------------------------------------------
max_epochs = 20
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=4, layer_decay_rate=1.0),  # from scratch: no decay
    clip_grad=dict(max_norm=1., norm_type=2))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs, eta_min=1e-5, by_epoch=True),
]

# ---- model ------------------------------------------------------------------------------------------------
codec = dict(type='UDPHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=2)
model = dict(
    type='MultiDatasetTopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        type='ViT',
        img_size=(128, 96),
        patch_size=16,
        embed_dim=96,
        depth=4,
        num_heads=3,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.05,
        num_expert=2,
        part_features=24),
    heads={name: dict(type='TopdownHeatmapSimpleHead', in_channels=96, out_channels=k, num_deconv_layers=2,
                      num_deconv_filters=(64, 64), num_deconv_kernels=(4, 4), final_layer=dict(kernel_size=1),
                      loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec)
           for name, k in dict(coco=17, aic=14).items()},
    experts=dict(coco=0, aic=1),
    test_cfg=dict(flip_test=False))

# ---- data -------------------------------------------------------------------------------------------------
data_root = 'data/synthetic_multi/'
data_mode = 'topdown'
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
aic_metainfo = dict(from_file='{{fileDirname}}/../../_base_/datasets/synthetic_aic.py')  # from any directory
train_sets = [
    dict(type='CocoDataset', data_root=data_root + 'coco/', ann_file='annotations/person_keypoints_train.json',
         data_prefix=dict(img='train/')),
    dict(type='AicDataset', data_root=data_root + 'aic/', ann_file='annotations/aic_train.json',
         data_prefix=dict(img='train/'), metainfo=aic_metainfo),
]
val_sets = [
    dict(type='CocoDataset', data_root=data_root + 'coco/', ann_file='annotations/person_keypoints_val.json',
         data_prefix=dict(img='val/')),
    dict(type='AicDataset', data_root=data_root + 'aic/', ann_file='annotations/aic_val.json',
         data_prefix=dict(img='val/'), metainfo=aic_metainfo),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='CombinedDataset',
        metainfo=dict(from_file='configs/_base_/datasets/coco.py'),
        datasets=[dict(d, data_mode=data_mode, pipeline=train_pipeline) for d in train_sets],
        pipeline=[dict(type='KeepPackedInputs')]))
val_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type='CombinedDataset',
        metainfo=dict(from_file='configs/_base_/datasets/coco.py'),
        datasets=[dict(d, data_mode=data_mode, test_mode=True, pipeline=val_pipeline) for d in val_sets],
        pipeline=[dict(type='KeepPackedInputs')],
        test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='PerDatasetEvaluator',
    datasets=val_sets,
    metrics=[
        dict(type='CocoMetric', ann_file=data_root + 'coco/annotations/person_keypoints_val.json'),
        dict(type='CocoMetric', ann_file=data_root + 'aic/annotations/aic_val.json', use_area=False),
    ])
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
