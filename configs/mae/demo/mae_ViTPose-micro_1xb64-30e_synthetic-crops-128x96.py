# MAE pre-training (docs/mae.md) of the demo's micro ViTPose (ViT 96 channels, 4 blocks, 16x16 patches with padding 2:
# a 128x96 crop gives an 8x6 grid) on the person crops of the synthetic training split (`python
# tools/make_synthetic_data.py data/synthetic`), boxes only, no keypoints. 75% of the 48 patches are masked; a decoder
# of 64 channels and 2 blocks reconstructs their per-patch normalised pixels. Everything is in this one file.
# Its checkpoint initialises td-hm_ViTPose-micro-mae_1xb32-12e_synthetic-128x96.py (model.backbone.init_cfg).
# Demo scale: a larger learning rate than MAE's rule (1.5e-4 x batch / 256) and a short schedule; no flips (the
# synthetic people wear their side as a colour, see configs/demo/).
custom_imports = dict(imports=['vitpose_mm', 'vitpose_mm.models.mae'], allow_failed_imports=False)
default_scope = 'mmpretrain'  # mmpretrain's MAE, its data preprocessor and PackInputs; mmpose's data via _scope_
runner_type = 'ViTPoseRunner'  # checkpoints record the position grid (meta['vitpose_mm']['grid'])

# ---- schedule ---------------------------------------------------------------------------------------------
max_epochs = 30
warmup_epochs = 3
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1.5e-3, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.), 'bias': dict(decay_mult=0.),
                                    'pos_embed': dict(decay_mult=0.), 'mask_token': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, by_epoch=True, begin=warmup_epochs,
         end=max_epochs, convert_to_iter_based=True),
]

# ---- model ------------------------------------------------------------------------------------------------
input_size = (128, 96)  # (H, W)
grid = (8, 6)  # ViTPose's grid of input_size (patch 16, padding 2)
model = dict(
    type='MAE',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
    backbone=dict(type='ViTPoseMAE', img_size=input_size, patch_size=16, embed_dim=96, depth=4, num_heads=3,
                  mlp_ratio=4, qkv_bias=True, mask_ratio=0.75),
    neck=dict(type='ViTPoseMAEDecoder', grid=grid, patch_size=16, in_chans=3, embed_dim=96, decoder_embed_dim=64,
              decoder_depth=2, decoder_num_heads=4, mlp_ratio=4),
    head=dict(type='ViTPoseMAEHead', grid=grid, patch_size=16, norm_pix=True,
              loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    init_cfg=[dict(type='Xavier', layer='Linear', distribution='uniform'),
              dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)])

# ---- data: person crops (mmpose's dataset and top-down affine), packed for mmpretrain ------------------------
data_root = 'data/synthetic/'
crop_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),  # the box, enlarged 1.25x, at the crop's aspect ratio
    dict(type='RandomBBoxTransform', shift_prob=0., scale_factor=(0.75, 1.25), rotate_factor=20.),
    dict(type='TopdownAffine', input_size=(input_size[1], input_size[0]), use_udp=True),
    dict(type='mmpretrain.PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        _scope_='mmpose',  # mmpose's dataset and transforms by their plain names
        type='CocoDataset',
        data_root=data_root,
        data_mode='topdown',  # one sample per annotated person
        ann_file='annotations/person_keypoints_train.json',
        data_prefix=dict(img='train/'),
        pipeline=crop_pipeline))

# ---- runtime ----------------------------------------------------------------------------------------------
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0)
log_processor = dict(window_size=10, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
