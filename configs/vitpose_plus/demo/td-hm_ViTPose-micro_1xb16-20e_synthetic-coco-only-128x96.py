# The multi-dataset demo, run (a), COCO half: the micro ViTPose of the distillation demo (model, lr 1e-3, cosine
# schedule: ../../distill/demo/td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py) with run (c)'s batches of 16 for
# 20 epochs, trained on the synthetic
# COCO-17 people of data/synthetic_multi/coco alone (tools/make_synthetic_multi_data.py).
_base_ = ['../../distill/demo/td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py']

max_epochs = 20
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs, eta_min=1e-5, by_epoch=True),
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
data_root = 'data/synthetic_multi/coco/'
data_mode = 'topdown'
train_dataloader = dict(batch_size=16, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/person_keypoints_val.json')
test_evaluator = val_evaluator
