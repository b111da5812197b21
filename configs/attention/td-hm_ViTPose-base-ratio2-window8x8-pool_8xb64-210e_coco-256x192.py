# ViTPose-B at 1/8 feature resolution (ratio=2: 16x16 patches with stride 8, a 32x24 grid), one row of the
# paper's attention-type table (docs/attention.md): window 8x8 + pooling windows (76.4 AP, 22,893 MB).
# Model, batch size and optimizer are here; data, pipelines, schedule and runtime in ../_base_/coco-256x192.py.
_base_ = ['../_base_/coco-256x192.py']

model = dict(
    backbone=dict(
        type='ViT',
        img_size=(256, 192),
        patch_size=16,
        embed_dim=768,
        depth=12,
        num_heads=12,
        ratio=2,
        window_size=(8, 8),
        pool=True,
        use_rel_pos=True,
        use_checkpoint=False,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.3,
        # MAE pre-training weights (224x224; pos_embed is resampled to 32x24 at load time)
        init_cfg=dict(type='ViTPosePretrained', checkpoint='pretrained/mae_pretrain_vit_base.pth')),
    head=dict(
        type='TopdownHeatmapSimpleHead',
        in_channels=768,
        out_channels=17,
        num_deconv_layers=1,  # 32x24 features -> 64x48 heatmaps, the size of the 1/16 models' two deconvs
        num_deconv_filters=(256, ),
        num_deconv_kernels=(4, ),
        final_layer=dict(kernel_size=1)))

train_dataloader = dict(batch_size=64)  # per GPU; 8 GPUs -> 512
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.75),
    clip_grad=dict(max_norm=1., norm_type=2))
