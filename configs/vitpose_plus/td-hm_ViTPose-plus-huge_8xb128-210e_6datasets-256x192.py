# ViTPose+-H (ViTPose++): one ViT-H with 320 expert channels per dataset and one head per
# dataset, trained on COCO, AIC, MPII, AP-10K, APT-36K and COCO-WholeBody at once (official
# configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/coco/
# vitPose+_huge_coco+aic+mpii+ap10k+apt36k+wholebody_256x192_udp.py).
# Published: COCO 79.4, AP-10K 82.4, APT-36K 82.3, WholeBody 61.2, MPII 94.2, AIC 34.8.
# Backbone, heads, batch size and optimizer are here; the rest in _base_/vitpose-plus-6datasets-256x192.py.
_base_ = ['../_base_/vitpose-plus-6datasets-256x192.py']

model = dict(
    backbone=dict(
        type='ViT',
        img_size=(256, 192),
        patch_size=16,
        embed_dim=1280,
        depth=32,
        num_heads=16,
        ratio=1,
        use_checkpoint=False,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.55,
        num_expert=6,
        part_features=320,
        # MAE pre-training weights (224x224; pos_embed is resampled to 16x12 at load time)
        init_cfg=dict(type='ViTPosePretrained', checkpoint='pretrained/mae_pretrain_vit_huge.pth')),
    # one classic decoder per dataset, each with its dataset's keypoints (loss and codec: the base)
    heads={name: dict(type='TopdownHeatmapSimpleHead', in_channels=1280, out_channels=k, num_deconv_layers=2,
                      num_deconv_filters=(256, 256), num_deconv_kernels=(4, 4), final_layer=dict(kernel_size=1))
           for name, k in dict(coco=17, aic=14, mpii=16, ap10k=17, apt36k=17, coco_wholebody=133).items()})

train_dataloader = dict(batch_size=128)  # per GPU; 8 GPUs -> 1024
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=32, layer_decay_rate=0.8),
    clip_grad=dict(max_norm=1., norm_type=2))
