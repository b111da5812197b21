# Bottom-up demo, CID head: the bottom-up demo (bottomup_ViTPose-tiny_1xb16_synthetic-128x160.py: tiny ViT, deconv
# neck, data, schedule, optimizer) with mmpose's CIDHead and DecoupledHeatmap codec (contextual instance decoupling:
# instance roots, then per-instance keypoint heatmaps) in place of associative
# embedding.
# Recipe: mmpose configs/body_2d_keypoint/cid/coco/cid_hrnet-w32_8xb20-140e_coco-512x512.py (codec, head, losses,
# test settings, metric), without the flip augmentation and flip test (the synthetic people wear their side as a
# colour).
_base_ = ['./bottomup_ViTPose-tiny_1xb16_synthetic-128x160.py']

input_size = (160, 128)  # (w, h)
data_root = 'data/synthetic/'
cid_codec = dict(type='DecoupledHeatmap', input_size=input_size, heatmap_size=(input_size[0] // 4, input_size[1] // 4))
model = dict(
    head=dict(
        _delete_=True,
        type='CIDHead',
        in_channels=128,
        num_keypoints=17,
        gfd_channels=32,
        coupled_heatmap_loss=dict(type='FocalHeatmapLoss', loss_weight=1.0),
        decoupled_heatmap_loss=dict(type='FocalHeatmapLoss', loss_weight=4.0),
        contrastive_loss=dict(type='InfoNCELoss', temperature=0.05, loss_weight=1.0),
        decoder=cid_codec),
    train_cfg=dict(max_train_instances=200),
    test_cfg=dict(_delete_=True, multiscale_test=False, flip_test=False, shift_heatmap=False, align_corners=False))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=cid_codec['input_size']),
    dict(type='GenerateTarget', encoder=cid_codec),
    dict(type='BottomupGetHeatmapMask'),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_evaluator = dict(_delete_=True, type='CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val.json',
                     nms_thr=0.8, score_mode='keypoint')
test_evaluator = val_evaluator
