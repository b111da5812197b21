# The AIC-style synthetic people of the multi-dataset demo (docs/vitpose_plus.md, tools/make_synthetic_multi_data.py):
# AI Challenger's 14 keypoints, order, skeleton and flip pairs (mmpose's AIC metainfo, name `aic`), scored with the
# OKS sigmas CrowdPose gives the same 14 keypoints (COCO's for the twelve limb points, 0.079 for head top and neck).
# AIC's own sigmas (0.010 to 0.039, 2 to 7 times smaller) leave AP at noise level at the demo's 128x96 input with
# 32x24 heatmaps (3.0 AP for a model trained on these people alone), so they could not tell the demo's runs apart.
_base_ = ['mmpose::_base_/datasets/aic.py']
dataset_info = dict(sigmas=[0.079, 0.072, 0.062, 0.079, 0.072, 0.062, 0.107, 0.087, 0.089, 0.107, 0.087, 0.089, 0.079,
                            0.079])
