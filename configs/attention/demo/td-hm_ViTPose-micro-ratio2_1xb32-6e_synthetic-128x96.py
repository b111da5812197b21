# The attention types at demo scale (docs/attention.md): a micro ViTPose (ViT 96-d, 4 blocks) at 1/8 features
# (ratio=2: a 128x96 crop gives a 16x12 grid, as 256x192 gives 32x24 in the paper) with full attention, trained
# from scratch for 6 epochs on the synthetic people of `python tools/make_synthetic_data.py data/synthetic`.
# The other rows are command-line overrides of this file, e.g. 4x4 windows (12 of them, as 8x8 windows on 32x24):
#   --cfg-options model.backbone.window_size="(4,4)" model.backbone.use_rel_pos=True
# Model, batch size and learning rate (AdamW 1e-3) are here and in the one base, the demo config
# ../../demo/td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96.py (data, pipelines, runtime).
_base_ = ['../../demo/td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96.py']

data_mode = 'topdown'
max_epochs = 6
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs, eta_min=1e-5, by_epoch=True),
]
optim_wrapper = dict(optimizer=dict(lr=1e-3), paramwise_cfg=dict(num_layers=4))
model = dict(
    backbone=dict(embed_dim=96, depth=4, num_heads=4, ratio=2, drop_path_rate=0.),
    head=dict(in_channels=96, num_deconv_layers=1, num_deconv_filters=(128, ), num_deconv_kernels=(4, )))
train_dataloader = dict(batch_size=32)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
