# ViTPose-L trained on COCO, AI Challenger and MPII at once (a plain ViT shared by the three datasets,
# one head each); published COCO val AP 78.7 (official README, 'Results with multi-task training').
# Backbone, heads, batch size and optimizer are here; the rest in _base_/coco-aic-mpii-256x192.py.
_base_ = ['../_base_/coco-aic-mpii-256x192.py']

model = dict(
    backbone=dict(
        type='ViT',
        img_size=(256, 192),
        patch_size=16,
        embed_dim=1024,
        depth=24,
        num_heads=16,
        ratio=1,
        use_checkpoint=False,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.5,
        # MAE pre-training weights (224x224; pos_embed is resampled to 16x12 at load time)
        init_cfg=dict(type='ViTPosePretrained', checkpoint='pretrained/mae_pretrain_vit_large.pth')),
    # one classic decoder per dataset, each with its dataset's keypoints (loss and codec: the base)
    heads={name: dict(type='TopdownHeatmapSimpleHead', in_channels=1024, out_channels=k, num_deconv_layers=2,
                      num_deconv_filters=(256, 256), num_deconv_kernels=(4, 4), final_layer=dict(kernel_size=1))
           for name, k in dict(coco=17, aic=14, mpii=16).items()})

train_dataloader = dict(batch_size=64)  # per GPU; 8 GPUs -> 512
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=24, layer_decay_rate=0.8),
    clip_grad=dict(max_norm=1., norm_type=2))
