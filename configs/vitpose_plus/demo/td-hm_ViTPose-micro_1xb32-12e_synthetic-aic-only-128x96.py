# The multi-dataset demo, run (a), AIC half: the micro ViTPose of the distillation demo (model, batch size 32, lr
# 1e-3, schedule: ../../distill/demo/td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py) with a 14-keypoint head,
# trained on the AIC-style synthetic people of data/synthetic_multi/aic alone (tools/make_synthetic_multi_data.py).
_base_ = ['../../distill/demo/td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py']

data_root = 'data/synthetic_multi/aic/'
data_mode = 'topdown'
model = dict(head=dict(out_channels=14))
train_dataloader = dict(dataset=dict(type='AicDataset', data_root=data_root, ann_file='annotations/aic_train.json'))
val_dataloader = dict(dataset=dict(type='AicDataset', data_root=data_root, ann_file='annotations/aic_val.json'))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/aic_val.json', use_area=False, prefix='aic')
test_evaluator = val_evaluator
