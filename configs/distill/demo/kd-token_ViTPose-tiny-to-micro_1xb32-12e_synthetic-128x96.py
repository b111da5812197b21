# Distillation, stage 2, demo scale: the demo student with the frozen knowledge token learned
# on the demo teacher in stage 1 (no teacher runs in this stage).
# The student, data, batch size, learning rate and schedule are the base config's (the no-distillation baseline);
# only the distiller is added here. See docs/distillation.md.
_base_ = ['./td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py']

model = dict(
    type='KnowledgeTokenDistiller',
    stage=2,
    knowledge_token=dict(
        # backbone.extra_tokens of the stage-1 run (kt-stage1_ViTPose-tiny_1xb32-3e_synthetic-128x96.py); 192 wide,
        # it reaches the 96-wide student through a linear projection trained here
        checkpoint='work_dirs/kt-stage1_ViTPose-tiny_1xb32-3e_synthetic-128x96/epoch_3.pth',
        proj_trainable=True))

optim_wrapper = dict(paramwise_cfg=dict(no_decay_names=['token_proj.weight']))  # keep the token's scale
