# Knowledge-token distillation, stage 1: one token appended to the patch tokens of a trained ViTPose-L
# (classic decoder, COCO 256x192) is learned with the heatmap loss; every teacher weight stays frozen. The teacher is
# its shipped config plus its checkpoint (e.g. the official ViTPose-L weights; `keypoint_head.*` names load
# too). The stage-1 checkpoint is the teacher with `backbone.extra_tokens`: stage 2 reads the token from it. Model,
# batch size and learning rate are here; data, pipelines and runtime in ../_base_/coco-256x192.py. The number of epochs
# and the learning rate are not tuned (the paper gives neither).
_base_ = ['../_base_/coco-256x192.py']

model = dict(
    _delete_=True,  # the network is the teacher's, built from its own config
    type='KnowledgeTokenDistiller',
    stage=1,
    num_tokens=1,
    teacher=dict(
        config='coco/td-hm_ViTPose-large_8xb64-210e_coco-256x192.py',  # relative to the package's configs/
        checkpoint='pretrained/vitpose-l.pth'),
    data_preprocessor=dict(
        type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=False))

train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=10)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=10, T_max=10, eta_min=1e-5, by_epoch=True),
]
train_dataloader = dict(batch_size=64)  # per GPU; 8 GPUs -> 512
# Only backbone.extra_tokens trains: the constructor skips frozen parameters and gives the token no weight decay;
# no layer decay (it would shrink the token's learning rate to 0.8**25).
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=24, layer_decay_rate=1.0),
    clip_grad=dict(max_norm=1., norm_type=2))
