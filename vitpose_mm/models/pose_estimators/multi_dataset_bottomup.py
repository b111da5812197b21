# References: mmpose 1.3.2 BottomupPoseEstimator (prediction to image coordinates); this package's
# MultiDatasetTopdownPoseEstimator (the ViTPose+ routing, ViTAE-Transformer/ViTPose top_down_moe.py).
"""ViTPose+ with bottom-up heads: one backbone with per-dataset experts, one bottom-up head per dataset.

The routing is :class:`MultiDatasetTopdownPoseEstimator`'s, unchanged: each sample's ``dataset_name`` (metainfo)
picks its head and the head's expert index, which goes to the ``ViT`` as ``dataset_source``. Only what differs
for bottom-up heads is here: their keypoint count is ``num_keypoints`` (mmpose's ``DEKRHead``, ``CIDHead``,
``AssociativeEmbeddingHead``), and predictions are mapped back to the image as ``BottomupPoseEstimator`` does
(whole-image ``input_center``/``input_scale`` of ``BottomupResize``). Multi-scale testing is not supported.
"""
from mmpose.models.pose_estimators import BottomupPoseEstimator
from mmpose.registry import MODELS

from .multi_dataset_topdown import MultiDatasetTopdownPoseEstimator


@MODELS.register_module()
class MultiDatasetBottomupPoseEstimator(MultiDatasetTopdownPoseEstimator):
    """Bottom-up pose estimator over several datasets, each sample routed to its dataset's expert and head.

    Args: as :class:`MultiDatasetTopdownPoseEstimator` (``trainable`` included), by keyword; ``heads`` are bottom-up
    heads whose ``num_keypoints`` equals their dataset's keypoint count, and ``test_cfg`` is passed to every head
    (``flip_test`` uses each dataset's flip indices).

    Raises:
        ValueError: ``test_cfg.multiscale_test`` is set (not supported), and every error of the top-down estimator.
    """

    head_keypoints_arg = 'num_keypoints'
    add_pred_to_datasample = BottomupPoseEstimator.add_pred_to_datasample

    def __init__(self, backbone, heads, **kwargs):
        if (kwargs.get('test_cfg') or {}).get('multiscale_test', False):
            raise ValueError('multiscale_test=True: MultiDatasetBottomupPoseEstimator tests at one scale only')
        super().__init__(backbone, heads, **kwargs)


__all__ = ['MultiDatasetBottomupPoseEstimator']
