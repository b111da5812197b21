# Bottom-up demo, DEKR head: the bottom-up demo (bottomup_ViTPose-tiny_1xb16_synthetic-128x160.py: tiny ViT, deconv
# neck, data, schedule, optimizer) with mmpose's DEKRHead and SPR codec (disentangled keypoint regression: a root
# heatmap per person and a displacement field per keypoint) in place of associative embedding.
# Recipe: mmpose configs/body_2d_keypoint/dekr/coco/dekr_hrnet-w32_8xb10-140e_coco-512x512.py (codec, head, losses,
# test settings, metric), without mmpose's COCO rescore net (trained on COCO poses), the flip augmentation and the
# flip test (the synthetic people wear their side as a colour). Not trained on this project's CPU machine: the
# deformable convolutions of the displacement branch (mmcv's CPU kernels) make a step ~25x slower than AE's
# (docs/bottomup.md); the COCO/CrowdPose configs use DEKR for GPUs.
_base_ = ['./bottomup_ViTPose-tiny_1xb16_synthetic-128x160.py']

input_size = (160, 128)  # (w, h)
data_root = 'data/synthetic/'
dekr_codec = dict(
    type='SPR',
    input_size=input_size,
    heatmap_size=(input_size[0] // 4, input_size[1] // 4),
    sigma=(4, 2),
    minimal_diagonal_length=32**0.5,
    generate_keypoint_heatmaps=True,
    decode_max_instances=30)
model = dict(
    head=dict(
        _delete_=True,
        type='DEKRHead',
        in_channels=128,
        num_keypoints=17,
        heatmap_loss=dict(type='KeypointMSELoss', use_target_weight=True),
        displacement_loss=dict(
            type='SoftWeightSmoothL1Loss', use_target_weight=True, supervise_empty=False, beta=1 / 9,
            loss_weight=0.002),
        decoder=dekr_codec),
    test_cfg=dict(_delete_=True, multiscale_test=False, flip_test=False, nms_dist_thr=0.05, shift_heatmap=True,
                  align_corners=False))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='BottomupRandomAffine', input_size=dekr_codec['input_size']),
    dict(type='GenerateTarget', encoder=dekr_codec),
    dict(type='BottomupGetHeatmapMask'),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_evaluator = dict(_delete_=True, type='CocoMetric', ann_file=data_root + 'annotations/person_keypoints_val.json',
                     nms_mode='none', score_mode='keypoint')
test_evaluator = val_evaluator
