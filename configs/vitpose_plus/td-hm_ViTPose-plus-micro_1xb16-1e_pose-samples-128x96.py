# A ViTPose+ that runs in seconds: a micro ViT (96 channels, 2 blocks) with one expert per dataset and one head per
# dataset, trained and evaluated on the few real images of ../shared/data/pose_samples (coco, aic, mpii, ap10k,
# crowdpose, coco_wholebody; OCHuman evaluated with the COCO head and expert). For tests and for reading: it shows
# every part of a multi-dataset config in one file (datasets, CombinedDataset, heads, experts, per-dataset metrics).
# MPII is scored with PCK normalised by the box (the samples have no head boxes for PCKh).
custom_imports = dict(imports=['vitpose_mm'], allow_failed_imports=False)
default_scope = 'mmpose'
runner_type = 'ViTPoseRunner'

# ---- schedule ---------------------------------------------------------------------------------------------
max_epochs = 1
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=2, layer_decay_rate=0.75),
    clip_grad=dict(max_norm=1., norm_type=2))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=True)]

# ---- model: the ViTPose+ order of experts, then CrowdPose's --------------------------------------------------
codec = dict(type='UDPHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=2)
keypoints = dict(coco=17, aic=14, mpii=16, ap10k=17, crowdpose=14, coco_wholebody=133)
model = dict(
    type='MultiDatasetTopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        type='ViT', img_size=(128, 96), patch_size=16, embed_dim=96, depth=2, num_heads=3, mlp_ratio=4,
        qkv_bias=True, drop_path_rate=0.1, num_expert=6, part_features=24),
    heads={
        name: dict(
            type='TopdownHeatmapSimpleHead', in_channels=96, out_channels=k, num_deconv_layers=2,
            num_deconv_filters=(32, 32), num_deconv_kernels=(4, 4), final_layer=dict(kernel_size=1),
            loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec)
        for name, k in keypoints.items()},
    experts=dict(coco=0, aic=1, mpii=2, ap10k=3, crowdpose=4, coco_wholebody=5),
    eval_with=dict(ochuman='coco'),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=False))

# ---- data -------------------------------------------------------------------------------------------------
data_mode = 'topdown'
data_root = '{{fileDirname}}/../../../shared/data/pose_samples/'
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
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
# Each dataset: mmpose's class and metainfo, its own annotation file; each runs its own pipeline (own flip pairs,
# own keypoint count) and its samples carry their dataset_name to the model and the evaluator.
coco = dict(type='CocoDataset', ann_file='coco/test_coco.json', data_prefix=dict(img='coco/'))
aic = dict(type='AicDataset', ann_file='aic/test_aic.json', data_prefix=dict(img='aic/'))
mpii = dict(type='MpiiDataset', ann_file='mpii/test_mpii.json', data_prefix=dict(img='mpii/'))
ap10k = dict(type='AP10KDataset', ann_file='ap10k/test_ap10k.json', data_prefix=dict(img='ap10k/'))
crowdpose = dict(type='CrowdPoseDataset', ann_file='crowdpose/test_crowdpose.json', data_prefix=dict(img='crowdpose/'))
wholebody = dict(type='CocoWholeBodyDataset', ann_file='coco/test_coco_wholebody.json', data_prefix=dict(img='coco/'))
ochuman = dict(type='OCHumanDataset', ann_file='ochuman/test_ochuman.json', data_prefix=dict(img='ochuman/'))
# serialize_data=False: these files are tiny, and mmengine's serialisation runs gc.collect() once per dataset
# (seconds each in a process that has imported torch)
common = dict(data_root=data_root, data_mode=data_mode, serialize_data=False)
train_sets = [coco, aic, mpii, ap10k, crowdpose, wholebody]
val_sets = [coco, aic, mpii, ap10k, crowdpose, wholebody, ochuman]
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='CombinedDataset',
        metainfo=dict(from_file='configs/_base_/datasets/coco.py'),  # the runner's default; samples keep their own
        datasets=[dict(d, **common, pipeline=train_pipeline) for d in train_sets],
        pipeline=[dict(type='KeepPackedInputs')]))
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type='CombinedDataset',
        metainfo=dict(from_file='configs/_base_/datasets/coco.py'),
        datasets=[dict(d, **common, test_mode=True, pipeline=val_pipeline) for d in val_sets],
        pipeline=[dict(type='KeepPackedInputs')],
        test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='PerDatasetEvaluator',
    datasets=val_sets,
    metrics=[
        dict(type='CocoMetric', ann_file=data_root + 'coco/test_coco.json'),
        dict(type='CocoMetric', ann_file=data_root + 'aic/test_aic.json', use_area=False),
        dict(type='PCKAccuracy', norm_item='bbox'),
        dict(type='CocoMetric', ann_file=data_root + 'ap10k/test_ap10k.json'),
        dict(type='CocoMetric', ann_file=data_root + 'crowdpose/test_crowdpose.json', use_area=False,
             iou_type='keypoints_crowd'),
        dict(type='CocoWholeBodyMetric', ann_file=data_root + 'coco/test_coco_wholebody.json'),
        dict(type='CocoMetric', ann_file=data_root + 'ochuman/test_ochuman.json'),
    ])
test_evaluator = val_evaluator

# ---- runtime ----------------------------------------------------------------------------------------------
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='PoseVisualizationHook', enable=False))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='PoseLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=1, by_epoch=True, num_digits=6)
log_level = 'INFO'
load_from = None
resume = False
