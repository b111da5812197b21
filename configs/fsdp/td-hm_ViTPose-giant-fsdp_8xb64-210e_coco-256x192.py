# ViTPose-G (plain ViT, 1.0B), sharded data-parallel training (FSDP);
# otherwise as ../vitpose_g/td-hm_ViTPose-giant_8xb64-210e_coco-256x192.py
# ViTPose-G at the paper's scale as a plain ViT (about 1.0B parameters): width 1408, 40 blocks, 16 heads, MLP 6144,
# 16x16 patches, layer decay 0.85, drop path 0.55 (ViTPose paper, Sec. 4). The paper's ViTPose-G is ViTAE-G (a ViT
# with a parallel convolution branch in every block), which was never released; this is the plain-ViT counterpart.
# Gradient checkpointing is on: one 256x192 sample's activations are otherwise several GB in training.
# Model, batch size and optimizer are here; data, pipelines, schedule and runtime in ../_base_/coco-256x192.py.
_base_ = ['../_base_/coco-256x192.py']

# Sharded training (FSDP) through mmengine's FlexibleRunner: each ViT block is one FSDP unit, parameters in bfloat16
# with float32 gradient reduction, full (unsharded) checkpoints that any vitpose_mm model loads, gradient
# checkpointing in every block; the layer-decay groups see the original parameter shapes (docs/training.md).
# Launch: bash tools/dist_train.sh THIS_CONFIG 8  (CPU: see tests/engine/test_fsdp.py)
runner_type = 'ViTPoseFlexibleRunner'
strategy = dict(
    type='ViTPoseFSDPStrategy',
    state_dict_cfg='full',
    model_wrapper=dict(
        use_orig_params=True,
        auto_wrap_policy=dict(type='vit_block_wrap_policy'),
        mixed_precision=dict(param_dtype='bfloat16', reduce_dtype='float32', buffer_dtype='float32')))

model = dict(
    backbone=dict(
        type='ViT',
        img_size=(256, 192),
        patch_size=16,
        embed_dim=1408,
        depth=40,
        num_heads=16,
        ratio=1,
        use_checkpoint=True,
        mlp_ratio=6144 / 1408,  # hidden width int(1408 * ratio) == 6144
        qkv_bias=True,
        drop_path_rate=0.55,
        # MAE-style initialisation: an MAE ViT-g/16 pre-training file (none is published; pre-train one with MAE
        # or set init_cfg=None to train from scratch). pos_embed is resampled to 16x12 at load time.
        init_cfg=dict(type='Pretrained', checkpoint='pretrained/mae_pretrain_vit_giant.pth')),
    head=dict(
        type='TopdownHeatmapSimpleHead',
        in_channels=1408,
        out_channels=17,
        num_deconv_layers=2,
        num_deconv_filters=(256, 256),
        num_deconv_kernels=(4, 4),
        final_layer=dict(kernel_size=1)))

train_dataloader = dict(batch_size=64)  # per GPU; 8 GPUs -> 512, the official recipe (add --amp for bf16/fp16)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=40, layer_decay_rate=0.85),
    clip_grad=dict(max_norm=1., norm_type=2))
