# Bottom-up ViTPose-B on COCO, 512x512, DEKR head. Model, batch size and optimizer are here; codec, head
# losses, data, schedule and runtime in ../_base_/bottomup-dekr-coco-512x512.py (the recipe and its sources).
_base_ = ['../_base_/bottomup-dekr-coco-512x512.py']

model = dict(
    backbone=dict(
        type='ViT',
        img_size=(512, 512),
        patch_size=16,
        embed_dim=768,
        depth=12,
        num_heads=12,
        ratio=1,
        use_checkpoint=False,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.3,
        # MAE pre-training (224x224, a 14x14 grid): pos_embed resampled to 32x32 at load time. A top-down ViTPose
        # checkpoint works too (its recorded 16x12 grid is resampled; docs/bottomup.md).
        init_cfg=dict(type='ViTPosePretrained', checkpoint='pretrained/mae_pretrain_vit_base.pth')),
    neck=dict(in_channels=768),
    head=dict(
        in_channels=256,
        num_keypoints=17))

train_dataloader = dict(batch_size=10)  # per GPU; 8 GPUs -> 80 (mmpose's DEKR)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.75),
    clip_grad=dict(max_norm=1., norm_type=2))
