# The bottom-up demo: the tiny ViT of the top-down demo (192 channels, 6 blocks, 16x16 patches) on whole synthetic
# images downscaled to 160x128 (an 8x10 patch grid), ViTPose's classic decoder as a 1/16 -> 1/4 neck, and mmpose's
# AssociativeEmbeddingHead with its codec (a heatmap and a tag per keypoint; people are grouped by tag). Trained from
# scratch on `python tools/make_synthetic_data.py data/synthetic`; no boxes at training or test time.
# Recipe: mmpose configs/body_2d_keypoint/associative_embedding/coco/ae_hrnet-w32_8xb24-300e_coco-512x512.py (codec,
# head, losses, pipelines, test settings, metric) with the optimizer of the top-down demo (AdamW, cosine). No
# horizontal flip (neither augmentation nor flip test): the synthetic people wear their side as a colour.
# Why this head is the default, and the other heads: docs/bottomup.md. Everything is in this one file.
custom_imports = dict(imports=['vitpose_mm'], allow_failed_imports=False)
default_scope = 'mmpose'
runner_type = 'ViTPoseRunner'

# ---- schedule ---------------------------------------------------------------------------------------------
max_epochs = 16
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=6, layer_decay_rate=1.0),  # from scratch: no decay
    clip_grad=dict(max_norm=1., norm_type=2))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs, eta_min=1e-5, by_epoch=True),
]

# ---- model ------------------------------------------------------------------------------------------------
input_size = (160, 128)  # (w, h): the whole 320x256 synthetic image at half size
codec = dict(
    type='AssociativeEmbedding',
    input_size=input_size,
    heatmap_size=(input_size[0] // 4, input_size[1] // 4),
    sigma=2,
    decode_topk=30,
    decode_center_shift=0.5,
    decode_keypoint_order=[0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16],
    decode_max_instances=30)
model = dict(
    type='BottomupPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
        pad_size_divisor=32),  # bottom/right padding: image coordinates stay as they are
    backbone=dict(
        type='ViT',
        img_size=(input_size[1], input_size[0]),
        patch_size=16,
        embed_dim=192,
        depth=6,
        num_heads=6,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.05),
    neck=dict(type='DeconvUpsampleNeck', in_channels=192, out_channels=(128, 128), kernel_sizes=(4, 4)),
    head=dict(
        type='TrainableAssociativeEmbeddingHead',  # mmpose's head, its test without flip fixed (see its file)
        in_channels=128,
        num_keypoints=17,
        tag_dim=1,
        tag_per_keypoint=True,
        deconv_out_channels=None,  # the neck upsamples
        # KeypointMSELoss with the heatmap mask, without per-instance weights (associative_embedding_training.py)
        keypoint_loss=dict(type='AssociativeEmbeddingHeatmapLoss'),
        # mmpose's tag loss without the constant its push loss carries (same file)
        tag_loss=dict(type='AssociativeEmbeddingTagLoss', loss_weight=0.001),
        decoder=codec),
    # decoded at the heatmaps' own 1/4 size (mmpose's AE recipe upsamples them to the input size first): as accurate
    # on the synthetic val set and about 16 times less decoding work (docs/bottomup.md)
    test_cfg=dict(multiscale_test=False, flip_test=False, shift_heatmap=False, restore_heatmap_size=False,
                  align_corners=False))

# ---- data -------------------------------------------------------------------------------------------------
data_root = 'data/synthetic/'
dataset_type = 'CocoDataset'
data_mode = 'bottomup'  # read by mmpose's inferencer and demo scripts
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=codec['input_size']),
    # mmpose's codec with the label table its head needs (vitpose_mm/models/heads/associative_embedding_training.py)
    dict(type='GenerateTarget', encoder=dict(codec, type='AssociativeEmbeddingTargets')),
    dict(type='BottomupGetHeatmapMask'),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupResize', input_size=codec['input_size'], size_factor=32, resize_mode='expand'),
    dict(type='PackPoseInputs',
         meta_keys=('id', 'img_id', 'img_path', 'crowd_index', 'ori_shape', 'img_shape', 'input_size',
                    'input_center', 'input_scale', 'flip', 'flip_direction', 'flip_indices', 'raw_ann_info',
                    'skeleton_links')),
]
train_dataloader = dict(
    batch_size=16,
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
    batch_size=1,  # mmpose's bottom-up heads decode one image at a time
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
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val.json',
                     nms_mode='none', score_mode='bbox')
test_evaluator = val_evaluator

# ---- runtime ----------------------------------------------------------------------------------------------
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='PoseVisualizationHook', enable=False))
custom_hooks = [dict(type='EpochSeedHook')]  # each epoch seeded from (seed, epoch): exact --resume
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='PoseLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=10, by_epoch=True, num_digits=6)
log_level = 'INFO'
load_from = None
resume = False
