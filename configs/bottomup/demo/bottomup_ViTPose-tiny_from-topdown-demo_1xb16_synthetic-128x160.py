# The bottom-up demo started from the top-down demo's weights: the same model, data and pipelines as
# bottomup_ViTPose-tiny_1xb16_synthetic-128x160.py (associative embedding, 160x128, no boxes), with the ViT initialised
# from `make demo`'s checkpoint (its 8x6 position grid resampled to 8x10 and logged; vitpose_mm's ViTPosePretrained)
# and the deconvolution neck from that checkpoint's head (the two have the same layers: mmengine's Pretrained with
# the prefix 'head.'); the associative-embedding head starts from scratch. ViTPose's fine-tuning recipe: layer decay
# 0.75. Run `make demo` first (it writes work_dirs/demo/epoch_12.pth). Figures: docs/bottomup.md.
_base_ = ['./bottomup_ViTPose-tiny_1xb16_synthetic-128x160.py']

topdown_demo = 'work_dirs/demo/epoch_12.pth'
max_epochs = 48
train_cfg = dict(max_epochs=max_epochs, val_interval=16)
optim_wrapper = dict(paramwise_cfg=dict(num_layers=6, layer_decay_rate=0.75))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs, eta_min=1e-5, by_epoch=True),
]
model = dict(
    backbone=dict(init_cfg=dict(type='ViTPosePretrained', checkpoint=topdown_demo)),
    neck=dict(init_cfg=dict(type='Pretrained', checkpoint=topdown_demo, prefix='head.')))
default_hooks = dict(checkpoint=dict(interval=16, max_keep_ckpts=3))
