# ViTPose-B on AI Challenger (14 keypoints), 256x192, the ViTPose recipe
# (official configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/aic/ViTPose_base_aic_256x192.py):
# mmpose's AicDataset and metainfo. Evaluation: ground-truth boxes, COCO AP (OKS with the AIC sigmas, no area).
# Model, batch size and optimizer are here; pipelines, schedule and runtime in ../_base_/coco-256x192.py.
_base_ = ['../_base_/coco-256x192.py']

dataset_type = 'AicDataset'
data_root = 'data/aic/'

model = dict(
    backbone=dict(
        type='ViT',
        img_size=(256, 192),
        patch_size=16,
        embed_dim=768,
        depth=12,
        num_heads=12,
        ratio=1,
        use_checkpoint=False,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.3,
        # MAE pre-training weights (224x224; pos_embed is resampled to 16x12 at load time)
        init_cfg=dict(type='ViTPosePretrained', checkpoint='pretrained/mae_pretrain_vit_base.pth')),
    head=dict(
        type='TopdownHeatmapSimpleHead',
        in_channels=768,
        out_channels=14,
        num_deconv_layers=2,
        num_deconv_filters=(256, 256),
        num_deconv_kernels=(4, 4),
        final_layer=dict(kernel_size=1)))

train_dataloader = dict(
    batch_size=64,  # per GPU; 8 GPUs -> 512
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/aic_train.json',
        data_prefix=dict(img='ai_challenger_keypoint_train_20170902/keypoint_train_images_20170902/')))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/aic_val.json',
        data_prefix=dict(img='ai_challenger_keypoint_validation_20170911/keypoint_validation_images_20170911/'),
        bbox_file=None))
test_dataloader = val_dataloader
val_evaluator = dict(
    _delete_=True,
    type='CocoMetric', ann_file=data_root + 'annotations/aic_val.json', use_area=False, prefix='aic')
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='aic/AP'))
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.75),
    clip_grad=dict(max_norm=1., norm_type=2))
