# Bottom-up demo, associative embedding: the bottom-up demo (bottomup_ViTPose-tiny_1xb16_synthetic-256x320.py: tiny
# ViT, deconv neck, data, schedule, optimizer) with mmpose's AssociativeEmbeddingHead and codec (keypoint heatmaps
# plus one tag per keypoint, grouped by tag) in place of DEKR.
# Recipe: mmpose configs/body_2d_keypoint/associative_embedding/coco/ae_hrnet-w32_8xb24-300e_coco-512x512.py (codec,
# head, losses, test settings, metric), without the flip augmentation and flip test (the synthetic people wear
# their side as a colour).
_base_ = ['./bottomup_ViTPose-tiny_1xb16_synthetic-256x320.py']

input_size = (320, 256)  # (w, h)
codec = dict(
    type='AssociativeEmbedding',
    input_size=input_size,
    heatmap_size=(input_size[0] // 4, input_size[1] // 4),
    sigma=2,
    decode_topk=30,
    decode_center_shift=0.5,
    decode_keypoint_order=[0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16],
    decode_max_instances=30)
model = dict(
    head=dict(
        _delete_=True,
        type='AssociativeEmbeddingHead',
        in_channels=128,
        num_keypoints=17,
        tag_dim=1,
        tag_per_keypoint=True,
        deconv_out_channels=None,  # the neck upsamples
        keypoint_loss=dict(type='KeypointMSELoss', use_target_weight=True),
        tag_loss=dict(type='AssociativeEmbeddingLoss', loss_weight=0.001),
        decoder=dict(codec, heatmap_size=codec['input_size'])),  # heatmaps restored to the input size to decode
    test_cfg=dict(_delete_=True, multiscale_test=False, flip_test=False, shift_heatmap=False,
                  restore_heatmap_size=True, align_corners=False))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='BottomupGetHeatmapMask'),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_evaluator = dict(_delete_=True, type='CocoMetric', ann_file='data/synthetic/annotations/person_keypoints_val.json',
                     nms_mode='none', score_mode='bbox')
test_evaluator = val_evaluator
