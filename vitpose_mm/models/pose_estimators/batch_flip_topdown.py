# References: mmpose 1.3.2 TopdownPoseEstimator.predict (flip test: two backbone passes).
"""mmpose's top-down estimator with the flip test as one batch (``test_cfg.batch_flip``)."""
import torch
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.typing import SampleList


@MODELS.register_module()
class BatchFlipTopdownPoseEstimator(TopdownPoseEstimator):
    """mmpose's ``TopdownPoseEstimator`` (same arguments, modules and checkpoint keys) whose flip test can run the
    crops and their mirror images as one batch: the estimator of the shipped top-down configs.

    ``test_cfg.batch_flip`` (default False: mmpose's two backbone passes, bit for bit): with ``flip_test``, the B
    crops and their B mirror images go through the backbone and neck as one batch of 2B, and the head's
    ``predict`` gets both halves as mmpose's flip test gives them. Heatmaps equal the two passes' to 1e-5
    (float rounding of another batch size; ``tests/models/test_fast_inference.py``). ``enable_fast_inference``
    (``tools/test.py --precision/--compile``, ``PoseEstimator(precision=...)``) turns it on; docs/speed.md.
    """

    def predict(self, inputs: torch.Tensor, data_samples: SampleList) -> SampleList:
        """(B, 3, H, W) crops -> data samples with ``pred_instances`` (and ``pred_fields``), as mmpose's."""
        if not (self.test_cfg.get('flip_test', False) and self.test_cfg.get('batch_flip', False)):
            return super().predict(inputs, data_samples)
        n = inputs.shape[0]
        feats = self.extract_feat(torch.cat([inputs, inputs.flip(-1)]))
        feats = [tuple(f[:n] for f in feats), tuple(f[n:] for f in feats)]
        preds = self.head.predict(feats, data_samples, test_cfg=self.test_cfg)
        instances, fields = preds if isinstance(preds, tuple) else (preds, None)
        return self.add_pred_to_datasample(instances, fields, data_samples)


__all__ = ['BatchFlipTopdownPoseEstimator']
