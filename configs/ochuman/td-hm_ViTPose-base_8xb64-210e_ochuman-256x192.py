# ViTPose-B evaluated on OCHuman (17 COCO keypoints, heavily occluded people): trained on COCO with the ViTPose recipe,
# tested on OCHuman with ground-truth boxes (official configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/ochuman/
# ViTPose_base_ochuman_256x192.py). OCHuman has no training split: `--checkpoint` a COCO ViTPose-B for tools/test.py.
# Model, batch size and optimizer are here; COCO training data, pipelines, schedule and runtime in
# ../_base_/coco-256x192.py.
_base_ = ['../_base_/coco-256x192.py']

data_root = 'data/ochuman/'

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
        out_channels=17,
        num_deconv_layers=2,
        num_deconv_filters=(256, 256),
        num_deconv_kernels=(4, 4),
        final_layer=dict(kernel_size=1)))

train_dataloader = dict(batch_size=64)  # per GPU; 8 GPUs -> 512 (COCO train2017, from the base)
val_dataloader = dict(
    dataset=dict(
        type='OCHumanDataset',
        data_root=data_root,
        ann_file='annotations/ochuman_coco_format_val_range_0.00_1.00.json',
        data_prefix=dict(img='images/'),
        bbox_file=None))
test_dataloader = dict(
    dataset=dict(
        type='OCHumanDataset',
        data_root=data_root,
        ann_file='annotations/ochuman_coco_format_test_range_0.00_1.00.json',
        data_prefix=dict(img='images/'),
        bbox_file=None))
val_evaluator = dict(
    _delete_=True, type='CocoMetric', ann_file=data_root + 'annotations/ochuman_coco_format_val_range_0.00_1.00.json',
    prefix='ochuman')
test_evaluator = dict(
    _delete_=True, type='CocoMetric', ann_file=data_root + 'annotations/ochuman_coco_format_test_range_0.00_1.00.json',
    prefix='ochuman')
default_hooks = dict(checkpoint=dict(save_best='ochuman/AP'))
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.75),
    clip_grad=dict(max_norm=1., norm_type=2))
