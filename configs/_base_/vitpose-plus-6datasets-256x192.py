# ViTPose+ on six datasets at once (COCO, AI Challenger, MPII, AP-10K, APT-36K, COCO-WholeBody), 256x192, the official
# ViTPose+ recipe (ViTAE-Transformer/ViTPose configs/.../vitPose+_*_coco+aic+mpii+ap10k+apt36k+wholebody_256x192_udp.py)
# ported to mmpose 1.x: data, pipelines, experts, per-dataset evaluation, schedule and runtime. Leaf configs add the
# backbone and the heads, the batch size and the optimizer (learning rate, layer decay).
#
# Every dataset is read by mmpose's own class with its own pipeline (own flip pairs, own keypoint count, own codec
# targets); mmpose's CombinedDataset shuffles them together; each sample carries its dataset_name to the model
# (MultiDatasetTopdownPoseEstimator: its head and expert) and to PerDatasetEvaluator (its metric). See
# docs/vitpose_plus.md.
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
auto_scale_lr = dict(base_batch_size=1024)  # 8 GPUs x 128

# ---- model parts shared by every size: experts (the ViTPose+ order), codec, loss, flip test -------------------
codec = dict(type='UDPHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
dataset_names = ('coco', 'aic', 'mpii', 'ap10k', 'apt36k', 'coco_wholebody')
model = dict(
    type='MultiDatasetTopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    heads={name: dict(loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec)
           for name in dataset_names},
    experts={name: i for i, name in enumerate(dataset_names)},
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=False))

# ---- data -------------------------------------------------------------------------------------------------
data_mode = 'topdown'
backend_args = dict(backend='local')
train_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
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
apt36k_metainfo = dict(from_file='{{fileDirname}}/datasets/apt36k.py')  # AP-10K's metainfo, named apt36k
person_boxes = 'data/coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json'
train_sets = [
    dict(type='CocoDataset', data_root='data/coco/', ann_file='annotations/person_keypoints_train2017.json',
         data_prefix=dict(img='train2017/')),
    dict(type='AicDataset', data_root='data/aic/', ann_file='annotations/aic_train.json',
         data_prefix=dict(img='ai_challenger_keypoint_train_20170902/keypoint_train_images_20170902/')),
    dict(type='MpiiDataset', data_root='data/mpii/', ann_file='annotations/mpii_train.json',
         data_prefix=dict(img='images/')),
    dict(type='AP10KDataset', data_root='data/ap10k/', ann_file='annotations/ap10k-train-split1.json',
         data_prefix=dict(img='data/')),
    dict(type='AP10KDataset', metainfo=apt36k_metainfo, data_root='data/apt36k/',
         ann_file='annotations/train_annotations_1.json', data_prefix=dict(img='')),
    dict(type='CocoWholeBodyDataset', data_root='data/coco/', ann_file='annotations/coco_wholebody_train_v1.0.json',
         data_prefix=dict(img='train2017/')),
]
val_sets = [
    dict(type='CocoDataset', data_root='data/coco/', ann_file='annotations/person_keypoints_val2017.json',
         bbox_file=person_boxes, data_prefix=dict(img='val2017/')),
    dict(type='AicDataset', data_root='data/aic/', ann_file='annotations/aic_val.json',
         data_prefix=dict(img='ai_challenger_keypoint_validation_20170911/keypoint_validation_images_20170911/')),
    dict(type='MpiiDataset', data_root='data/mpii/', ann_file='annotations/mpii_val.json',
         headbox_file='data/mpii/annotations/mpii_gt_val.mat', data_prefix=dict(img='images/')),
    # AP10KDataset whose bbox_file (when one is set) keeps every species (mmpose's keeps category 1 only)
    dict(type='BoxFileAP10KDataset', data_root='data/ap10k/', ann_file='annotations/ap10k-val-split1.json',
         data_prefix=dict(img='data/'), bbox_cat_ids=None),
    dict(type='BoxFileAP10KDataset', metainfo=apt36k_metainfo, data_root='data/apt36k/',
         ann_file='annotations/val_annotations_1.json', data_prefix=dict(img=''), bbox_cat_ids=None),
    dict(type='CocoWholeBodyDataset', data_root='data/coco/', ann_file='annotations/coco_wholebody_val_v1.0.json',
         bbox_file=person_boxes, data_prefix=dict(img='val2017/')),
]
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='CombinedDataset',
        metainfo=dict(from_file='configs/_base_/datasets/coco.py'),  # the runner's default; samples keep their own
        datasets=[dict(d, data_mode=data_mode, pipeline=train_pipeline) for d in train_sets],
        pipeline=[dict(type='KeepPackedInputs')]))
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
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
# one metric per dataset, reported as coco/AP, aic/AP, mpii/PCKh, ap10k/AP, apt36k/AP, coco_wholebody/AP ...
val_evaluator = dict(
    type='PerDatasetEvaluator',
    datasets=val_sets,
    metrics=[
        dict(type='CocoMetric', ann_file='data/coco/annotations/person_keypoints_val2017.json'),
        dict(type='CocoMetric', ann_file='data/aic/annotations/aic_val.json', use_area=False),
        dict(type='MpiiPCKAccuracy'),
        dict(type='CocoMetric', ann_file='data/ap10k/annotations/ap10k-val-split1.json'),
        dict(type='CocoMetric', ann_file='data/apt36k/annotations/val_annotations_1.json'),
        dict(type='CocoWholeBodyMetric', ann_file='data/coco/annotations/coco_wholebody_val_v1.0.json'),
    ])
test_evaluator = val_evaluator

# ---- runtime ----------------------------------------------------------------------------------------------
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=10, save_best='coco/AP', rule='greater', max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='PoseVisualizationHook', enable=False))
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
