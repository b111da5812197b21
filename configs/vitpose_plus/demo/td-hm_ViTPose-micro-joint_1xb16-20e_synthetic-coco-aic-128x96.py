# The multi-dataset demo, run (b): as run (c) (td-hm_ViTPose-plus-micro_..., everything else there: batch size 16,
# lr 1e-3, data, 20 epochs) but without experts: one plain micro ViT shared by both datasets, one head per dataset.
_base_ = ['td-hm_ViTPose-plus-micro_1xb16-20e_synthetic-coco-aic-128x96.py']

model = dict(backbone=dict(num_expert=1, part_features=0), experts=None)
