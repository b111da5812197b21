# The demo's micro ViTPose fine-tuned from its MAE pre-training on the synthetic person crops (docs/mae.md): the
# backbone starts from the encoder of mae_ViTPose-micro_1xb64-30e_synthetic-crops-128x96.py (its decoder is
# dropped, named in the log); everything else, the schedule included, is the from-scratch baseline's
# (../../distill/demo/td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py: model, batch size, learning rate).
_base_ = ['../../distill/demo/td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py']

model = dict(backbone=dict(init_cfg=dict(
    type='ViTPosePretrained',
    checkpoint='work_dirs/mae_ViTPose-micro_1xb64-30e_synthetic-crops-128x96/epoch_30.pth')))
