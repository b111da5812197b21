# The multi-dataset demo, run (a), AIC half: the micro ViTPose of the distillation demo (model, lr 1e-3, cosine
# schedule: ../../distill/demo/td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py) with run (c)'s batches of 16 for
# 20 epochs, with a 14-keypoint head,
# trained on the AIC-style synthetic people of data/synthetic_multi/aic alone (tools/make_synthetic_multi_data.py),
# scored with CrowdPose's sigmas for AIC's keypoints (configs/_base_/datasets/synthetic_aic.py).
_base_ = ['../../distill/demo/td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py']

max_epochs = 20
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs, eta_min=1e-5, by_epoch=True),
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
data_root = 'data/synthetic_multi/aic/'
data_mode = 'topdown'
model = dict(head=dict(out_channels=14))
aic_metainfo = dict(from_file='{{fileDirname}}/../../_base_/datasets/synthetic_aic.py')  # from any directory
train_dataloader = dict(
    batch_size=16,
    dataset=dict(type='AicDataset', data_root=data_root, ann_file='annotations/aic_train.json', metainfo=aic_metainfo))
val_dataloader = dict(
    dataset=dict(type='AicDataset', data_root=data_root, ann_file='annotations/aic_val.json', metainfo=aic_metainfo))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/aic_val.json', use_area=False, prefix='aic')
test_evaluator = val_evaluator
