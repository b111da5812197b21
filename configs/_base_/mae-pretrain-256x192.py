# MAE pre-training of ViTPose-B on pose data (ViTPose paper, sec. 4.2, "pre-training data flexibility"; docs/mae.md):
# model, optimizer, schedule, pipelines and runtime. Leaf configs in configs/mae/ choose the data: person crops of
# COCO, of COCO + AI Challenger, or their uncropped images.
# The paper's settings: 75% masking, 1,600 epochs. Its other settings are not published; MAE's are used (He et al.,
# mmpretrain's mae_vit-base-p16_8xb512-amp-coslr-1600e_in1k.py): batch 4096 (8 x 512), AdamW with base lr 1.5e-4 per
# 256 images (lr 2.4e-3), betas (0.9, 0.95), weight decay 0.05, 40 warm-up epochs then cosine, decoder of 512
# channels and 8 blocks, per-patch normalised pixel targets. Input 256x192 (ViTPose's crop; a 16x12 grid), so that
# the checkpoint's grid is the pose model's.
custom_imports = dict(imports=['vitpose_mm', 'vitpose_mm.models.mae'], allow_failed_imports=False)
default_scope = 'mmpretrain'  # mmpretrain's MAE, its data preprocessor and PackInputs; mmpose's data via _scope_
runner_type = 'ViTPoseRunner'  # checkpoints record the position grid (meta['vitpose_mm']['grid'])

# ---- schedule: 1,600 epochs, 40 of linear warm-up, then cosine ----------------------------------------------
max_epochs = 1600
warmup_epochs = 40
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1.5e-4 * 4096 / 256, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.), 'bias': dict(decay_mult=0.),
                                    'pos_embed': dict(decay_mult=0.), 'mask_token': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, by_epoch=True, begin=warmup_epochs,
         end=max_epochs, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=4096)  # 8 GPUs x 512

# ---- model: ViTPose-B as MAE's encoder ----------------------------------------------------------------------
input_size = (256, 192)  # (H, W)
grid = (16, 12)  # ViTPose's grid of input_size (patch 16, padding 2)
model = dict(
    type='MAE',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
    backbone=dict(type='ViTPoseMAE', img_size=input_size, patch_size=16, embed_dim=768, depth=12, num_heads=12,
                  mlp_ratio=4, qkv_bias=True, mask_ratio=0.75),
    neck=dict(type='ViTPoseMAEDecoder', grid=grid, patch_size=16, in_chans=3, embed_dim=768, decoder_embed_dim=512,
              decoder_depth=8, decoder_num_heads=16, mlp_ratio=4),
    head=dict(type='ViTPoseMAEHead', grid=grid, patch_size=16, norm_pix=True,
              loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    init_cfg=[dict(type='Xavier', layer='Linear', distribution='uniform'),
              dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)])

# ---- data: what the leaves combine -------------------------------------------------------------------------
backend_args = dict(backend='local')
# person crops: mmpose's dataset (one sample per annotated person, boxes only) and top-down affine transform
crop_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),  # the box, enlarged 1.25x, at the crop's aspect ratio
    dict(type='RandomBBoxTransform', shift_prob=0., scale_factor=(0.75, 1.25), rotate_factor=20.),
    dict(type='TopdownAffine', input_size=(input_size[1], input_size[0]), use_udp=True),
    dict(type='mmpretrain.RandomFlip', prob=0.5),
    dict(type='mmpretrain.PackInputs'),
]
# uncropped images (the paper's third variant): MAE's own augmentation, a random resized crop of the whole image
image_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='mmpretrain.RandomResizedCrop', scale=input_size, crop_ratio_range=(0.2, 1.0),
         aspect_ratio_range=(0.75 * 3 / 4, 0.75 * 4 / 3), backend='pillow', interpolation='bicubic'),  # w/h ~ 3/4
    dict(type='mmpretrain.RandomFlip', prob=0.5),
    dict(type='mmpretrain.PackInputs'),
]
coco_train = dict(type='CocoDataset', data_root='data/coco/', ann_file='annotations/person_keypoints_train2017.json',
                  data_prefix=dict(img='train2017/'))
aic_train = dict(type='AicDataset', data_root='data/aic/', ann_file='annotations/aic_train.json',
                 data_prefix=dict(img='ai_challenger_keypoint_train_20170902/keypoint_train_images_20170902/'))
# the three pre-training sets of the paper (leaves pick one; the default is COCO crops)
coco_crops = [dict(coco_train, data_mode='topdown', pipeline=crop_pipeline)]
coco_aic_crops = coco_crops + [dict(aic_train, data_mode='topdown', pipeline=crop_pipeline)]
coco_aic_images = [dict(d, data_mode='bottomup', pipeline=image_pipeline) for d in (coco_train, aic_train)]
train_dataloader = dict(
    batch_size=512,
    num_workers=16,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        _scope_='mmpose',  # mmpose's datasets and transforms by their plain names
        type='CombinedDataset',
        metainfo=dict(from_file='configs/_base_/datasets/coco.py'),  # unused: no keypoints are packed
        datasets=coco_crops,
        pipeline=[dict(type='KeepPackedInputs')]))

# ---- runtime ----------------------------------------------------------------------------------------------
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),  # resumable every epoch
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0, diff_rank_seed=True)
log_processor = dict(window_size=100, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
