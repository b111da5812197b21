# ViTPose+-S (ViTPose++): one ViT-S with 96 expert channels per dataset and one head per
# dataset, trained on COCO, AIC, MPII, AP-10K, APT-36K and COCO-WholeBody at once (official
# configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/coco/
# vitPose+_small_coco+aic+mpii+ap10k+apt36k+wholebody_256x192_udp.py).
# Published: COCO 75.8, AP-10K 71.4, APT-36K 74.2, WholeBody 54.4, MPII 92.7, AIC 29.7.
# Backbone, heads, batch size and optimizer are here; the rest in _base_/vitpose-plus-6datasets-256x192.py.
_base_ = ['../_base_/vitpose-plus-6datasets-256x192.py']

model = dict(
    backbone=dict(
        type='ViT',
        img_size=(256, 192),
        patch_size=16,
        embed_dim=384,
        depth=12,
        num_heads=12,
        ratio=1,
        use_checkpoint=False,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.1,
        num_expert=6,
        # the official S config says 192; the released ViTPose+-S checkpoint's expert fc2 weights have 96 rows
        part_features=96,
        # MAE pre-training weights (224x224; pos_embed is resampled to 16x12 at load time)
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/mae_pretrain_vit_small.pth')),
    # one classic decoder per dataset, each with its dataset's keypoints (loss and codec: the base)
    heads={name: dict(type='TopdownHeatmapSimpleHead', in_channels=384, out_channels=k, num_deconv_layers=2,
                      num_deconv_filters=(256, 256), num_deconv_kernels=(4, 4), final_layer=dict(kernel_size=1))
           for name, k in dict(coco=17, aic=14, mpii=16, ap10k=17, apt36k=17, coco_wholebody=133).items()})

train_dataloader = dict(batch_size=128)  # per GPU; 8 GPUs -> 1024
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.8),
    clip_grad=dict(max_norm=1., norm_type=2))
