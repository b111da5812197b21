# The multi-dataset demo, run (a), COCO half: the micro ViTPose of the distillation demo (model, batch size 32, lr
# 1e-3, schedule: ../../distill/demo/td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py) trained on the synthetic
# COCO-17 people of data/synthetic_multi/coco alone (tools/make_synthetic_multi_data.py).
_base_ = ['../../distill/demo/td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py']

data_root = 'data/synthetic_multi/coco/'
data_mode = 'topdown'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/person_keypoints_val.json')
test_evaluator = val_evaluator
