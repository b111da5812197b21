# Knowledge-token distillation, stage 1, demo scale: one token appended to the patch tokens of the trained demo
# teacher is learned with the heatmap loss for 3 epochs; every teacher weight stays frozen. The teacher is
# td-hm_ViTPose-tiny-teacher_1xb32-12e_synthetic-128x96.py, trained with `mim train vitpose_mm
# configs/distill/demo/td-hm_ViTPose-tiny-teacher_1xb32-12e_synthetic-128x96.py --work-dir work_dirs/distill_teacher`.
# Data, pipeline and runtime are the teacher's config (the base); the model, the schedule and the learning rate are
# here.
_base_ = ['./td-hm_ViTPose-tiny-teacher_1xb32-12e_synthetic-128x96.py']

model = dict(
    _delete_=True,  # the network is the teacher's, built from its own config
    type='KnowledgeTokenDistiller',
    stage=1,
    num_tokens=1,
    teacher=dict(
        config='distill/demo/td-hm_ViTPose-tiny-teacher_1xb32-12e_synthetic-128x96.py',  # under the package's configs/
        checkpoint='work_dirs/distill_teacher/epoch_12.pth'),
    data_preprocessor=dict(
        type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    test_cfg=dict(flip_test=False))

# Only backbone.extra_tokens trains (the constructor skips frozen parameters and gives the token no weight decay).
# The learning rate is not tuned.
train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=3)
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=5e-3, weight_decay=0.))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=20, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=3, T_max=3, eta_min=1e-5, by_epoch=True),
]
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=3, max_keep_ckpts=1))
