# ViTPose-S as deployed after knowledge-token distillation: the plain model of
# ../coco/td-hm_ViTPose-small_8xb64-210e_coco-256x192.py whose ViT carries one frozen extra token. Test or run students
# extracted with tools/extract_student.py from a kd-token* run with it; no teacher is involved. (Trained from MAE
# weights alone, its token would stay at its random initial value: train students with the kd-token* configs.)
# Model, batch size and optimizer are here; data, pipelines, schedule and runtime in ../_base_/coco-256x192.py.
_base_ = ['../_base_/coco-256x192.py']

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
        num_extra_tokens=1,  # the knowledge token, frozen
        extra_tokens_trainable=False,
        # MAE pre-training weights (224x224; pos_embed is resampled to 16x12 at load time; the token is kept)
        init_cfg=dict(type='ViTPosePretrained', checkpoint='pretrained/mae_pretrain_vit_small.pth')),
    head=dict(
        type='TopdownHeatmapSimpleHead',
        in_channels=384,
        out_channels=17,
        num_deconv_layers=2,
        num_deconv_filters=(256, 256),
        num_deconv_kernels=(4, 4),
        final_layer=dict(kernel_size=1)))

train_dataloader = dict(batch_size=64)  # per GPU; 8 GPUs -> 512
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.8),
    clip_grad=dict(max_norm=1., norm_type=2))
