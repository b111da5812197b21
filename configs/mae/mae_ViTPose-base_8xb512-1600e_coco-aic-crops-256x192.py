# MAE pre-training of ViTPose-B on the person crops of COCO and AI Challenger (the paper: 75.8 COCO AP after
# fine-tuning, as with ImageNet-1k MAE weights). Model, batch size (8 x 512), learning rate and schedule:
# ../_base_/mae-pretrain-256x192.py. Fine-tune with td-hm_ViTPose-base-mae-coco-aic_8xb64-210e_coco-256x192.py.
_base_ = ['../_base_/mae-pretrain-256x192.py']

train_dataloader = dict(dataset=dict(datasets={{_base_.coco_aic_crops}}))
