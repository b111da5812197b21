# Distillation, stage 2, demo scale: the demo student trained with an MSE loss to the heatmaps
# of the frozen demo teacher, besides the ground-truth heatmap loss.
# The student, data, batch size, learning rate and schedule are the base config's (the no-distillation baseline);
# only the distiller is added here. See docs/distillation.md.
_base_ = ['./td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py']

model = dict(
    type='KnowledgeTokenDistiller',
    stage=2,
    teacher=dict(
        config='distill/demo/td-hm_ViTPose-tiny-teacher_1xb32-12e_synthetic-128x96.py',  # under the package's configs/
        checkpoint='work_dirs/distill_teacher/epoch_12.pth'),
    heatmap_distill=dict(type='KeypointMSELoss', use_target_weight=False, loss_weight=1.0))
