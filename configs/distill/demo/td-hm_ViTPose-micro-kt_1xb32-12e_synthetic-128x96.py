# The demo student as it is deployed after knowledge-token distillation: the plain student
# (td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py) whose ViT carries one frozen extra token. Use it to test or run
# a student extracted with tools/extract_student.py; no teacher is involved. (Trained from scratch, its token would
# stay at its random initial value: train students with the kd-token* configs.)
_base_ = ['./td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py']

model = dict(backbone=dict(num_extra_tokens=1, extra_tokens_trainable=False))
