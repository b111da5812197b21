# ViTPose-B on AP-10K (17 animal keypoints), 256x192, the ViTPose recipe
# (official configs/animal/2d_kpt_sview_rgb_img/topdown_heatmap/ap10k/ViTPose_base_ap10k_256x192.py):
# mmpose's AP10KDataset and metainfo. Evaluation: ground-truth boxes, COCO AP with the AP-10K sigmas (split 1).
# Model, batch size and optimizer are here; pipelines, schedule and runtime in ../_base_/coco-256x192.py.
_base_ = ['../_base_/coco-256x192.py']

dataset_type = 'AP10KDataset'
# evaluation: AP10KDataset whose box file (bbox_file) keeps the categories bbox_cat_ids and logs what it drops
# (mmpose's keeps category 1 only): vitpose_mm/datasets/box_file.py
eval_dataset_type = 'BoxFileAP10KDataset'
data_root = 'data/ap10k/'

model = dict(
    backbone=dict(
        type='ViT',
        img_size=(256, 192),
        patch_size=16,
        embed_dim=768,
        depth=12,
        num_heads=12,
        ratio=1,
        use_checkpoint=False,
        mlp_ratio=4,
        qkv_bias=True,
        drop_path_rate=0.3,
        # MAE pre-training weights (224x224; pos_embed is resampled to 16x12 at load time)
        init_cfg=dict(type='ViTPosePretrained', checkpoint='pretrained/mae_pretrain_vit_base.pth')),
    head=dict(
        type='TopdownHeatmapSimpleHead',
        in_channels=768,
        out_channels=17,
        num_deconv_layers=2,
        num_deconv_filters=(256, 256),
        num_deconv_kernels=(4, 4),
        final_layer=dict(kernel_size=1)))

train_dataloader = dict(
    batch_size=64,  # per GPU; 8 GPUs -> 512
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/ap10k-train-split1.json',
        data_prefix=dict(img='data/')))
val_dataloader = dict(
    dataset=dict(
        type=eval_dataset_type,
        data_root=data_root,
        ann_file='annotations/ap10k-val-split1.json',
        data_prefix=dict(img='data/'),
        bbox_file=None,  # detections instead: a COCO results file; every species kept (bbox_cat_ids=None)
        bbox_cat_ids=None))
test_dataloader = dict(
    dataset=dict(
        type=eval_dataset_type,
        data_root=data_root,
        ann_file='annotations/ap10k-test-split1.json',
        data_prefix=dict(img='data/'),
        bbox_file=None,  # detections instead: a COCO results file; every species kept (bbox_cat_ids=None)
        bbox_cat_ids=None))
val_evaluator = dict(
    _delete_=True,
    type='CocoMetric', ann_file=data_root + 'annotations/ap10k-val-split1.json', prefix='ap10k')
test_evaluator = dict(
    _delete_=True,
    type='CocoMetric', ann_file=data_root + 'annotations/ap10k-test-split1.json', prefix='ap10k')
default_hooks = dict(checkpoint=dict(save_best='ap10k/AP'))
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.1),
    constructor='ViTPoseLayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.75),
    clip_grad=dict(max_norm=1., norm_type=2))
