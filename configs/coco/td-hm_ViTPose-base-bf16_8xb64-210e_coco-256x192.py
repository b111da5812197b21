# ViTPose-B with the classic decoder, COCO 256x192, official recipe, trained in bfloat16 mixed precision. Model, batch
# size and optimizer are here; data, pipelines, schedule and runtime in ../_base_/coco-256x192.py.
# AutocastOptimWrapper runs on CUDA and on CPUs (mmengine's AmpOptimWrapper needs CUDA); for fp16 with a loss scale on
# CUDA, train td-hm_ViTPose-base_8xb64-210e_coco-256x192.py with `tools/train.py --amp`. See docs/speed.md.
_base_ = ['../_base_/coco-256x192.py']

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

train_dataloader = dict(batch_size=64)  # per GPU; 8 GPUs -> 512
optim_wrapper = dict(
    type='AutocastOptimWrapper',  # bfloat16 autocast, fp32 master weights, no loss scale (docs/speed.md)
    dtype='bfloat16',
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.75),
    clip_grad=dict(max_norm=1., norm_type=2))
