# MAE pre-training of ViTPose-B on the uncropped images of COCO and AI Challenger (the paper's third variant: 75.8
# COCO AP after fine-tuning): one sample per image with at least one annotated person, MAE's random resized crop
# to 256x192. Model, batch size (8 x 512), learning rate and schedule: ../_base_/mae-pretrain-256x192.py.
_base_ = ['../_base_/mae-pretrain-256x192.py']

train_dataloader = dict(dataset=dict(datasets={{_base_.coco_aic_images}}))
