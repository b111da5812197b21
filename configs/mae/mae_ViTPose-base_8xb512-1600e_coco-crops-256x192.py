# MAE pre-training of ViTPose-B on the person crops of COCO only (the paper: 74.5 COCO AP after fine-tuning).
# Model, batch size (8 x 512), learning rate, schedule and the COCO crops: ../_base_/mae-pretrain-256x192.py.
_base_ = ['../_base_/mae-pretrain-256x192.py']
