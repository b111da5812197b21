"""Training mmpose's associative-embedding head: the workaround of mmpose 1.3.2's broken AE training, in one place.

mmpose 1.3.2 (also its main branch at the time of writing) ships ``AssociativeEmbeddingHead`` and its codec for
inference of converted checkpoints with the flip test, but training them stops on two bugs and testing without the
flip test on a third:

1. ``AssociativeEmbedding.encode`` returns ``keypoint_indices``, which ``AssociativeEmbeddingHead.loss`` reads from
   ``gt_instance_labels``; the codec declares no ``label_mapping_table``, so ``PackPoseInputs`` drops them
   ("'InstanceData' object has no attribute 'keypoint_indices'"). :class:`AssociativeEmbeddingTargets` declares
   the table.
2. the head passes the per-instance keypoint weights (sum of N over the batch, K) as the target weights of
   ``KeypointMSELoss`` on (B, K, H, W) heatmaps, which it refuses ("target_weights and target have mismatched
   shapes"). :class:`AssociativeEmbeddingHeatmapLoss` is ``KeypointMSELoss`` without those weights: every heatmap
   pixel is supervised, minus the ``BottomupGetHeatmapMask`` mask (crowd and unannotated people), as in mmpose 0.x's
   AE loss and the associative-embedding paper (Newell et al., NeurIPS 2017, section 3).
3. without the flip test, ``AssociativeEmbeddingHead.predict`` asserts that the features are a list (every
   estimator passes a tuple) and never applies ``restore_heatmap_size`` (only the flip branch resizes).
   :class:`TrainableAssociativeEmbeddingHead` does that one case itself with mmpose's ``aggregate_heatmaps``, as
   the flip branch does for one view.

A fourth bug only skews the logged value: ``AssociativeEmbeddingLoss`` sums exp(-d^2) over all N x N pairs of
people, the N diagonal terms exp(0) = 1 included, and divides by N(N-1), so each image's push loss carries a
constant 1/(N-1) (the official pose-ae-train ``singleTagLoss`` and mmpose 0.x subtract the N first). The gradient is
unchanged, but the logged ``loss_push`` sits on a floor that hides whether the tags of different people separate.
:class:`AssociativeEmbeddingTagLoss` removes that constant.

Encoding, decoding, the tag loss's gradient and grouping stay mmpose's.
"""
from typing import Optional

from mmengine.structures import PixelData
from mmpose.codecs import AssociativeEmbedding
from mmpose.models.heads import AssociativeEmbeddingHead
from mmpose.models.losses import AssociativeEmbeddingLoss, KeypointMSELoss
from mmpose.models.utils.tta import aggregate_heatmaps
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.typing import ConfigType, Features, OptSampleList, Predictions
from torch import Tensor


@KEYPOINT_CODECS.register_module()
class AssociativeEmbeddingTargets(AssociativeEmbedding):
    """``AssociativeEmbedding`` whose encoded ``keypoint_indices`` (N, K, 2) and ``keypoint_weights`` (N, K) are packed
    into ``gt_instance_labels``: the ``GenerateTarget`` encoder of an AE training pipeline (same arguments)."""

    label_mapping_table = dict(keypoint_indices='keypoint_indices', keypoint_weights='keypoint_weights')


@MODELS.register_module()
class AssociativeEmbeddingHeatmapLoss(KeypointMSELoss):
    """``KeypointMSELoss`` on bottom-up heatmaps (B, K, H, W) that ignores the head's per-instance target weights and
    keeps the heatmap mask (B, 1 or K, H, W). Same arguments as ``KeypointMSELoss`` (``use_target_weight`` must stay
    False: there are no per-image keypoint weights to use)."""

    def __init__(self, use_target_weight: bool = False, skip_empty_channel: bool = False, loss_weight: float = 1.):
        if use_target_weight:
            raise ValueError('use_target_weight=True: bottom-up AE heatmaps have no per-image keypoint weights')
        super().__init__(use_target_weight=False, skip_empty_channel=skip_empty_channel, loss_weight=loss_weight)

    def forward(self, output: Tensor, target: Tensor, target_weights: Optional[Tensor] = None,
                mask: Optional[Tensor] = None) -> Tensor:
        return super().forward(output, target, None, mask)


@MODELS.register_module()
class AssociativeEmbeddingTagLoss(AssociativeEmbeddingLoss):
    """``AssociativeEmbeddingLoss`` (same arguments and outputs: pull and push summed over the batch, times
    ``loss_weight``, push also times ``push_loss_factor``) whose push loss of an image with N >= 2 people is the mean
    of exp(-(mean tag difference)^2) over the N(N-1) ordered pairs of different people, without mmpose 1.3.2's
    constant 1/(N-1) from the diagonal (Newell et al., NeurIPS 2017, section 3; official pose-ae-train
    ``singleTagLoss``). Pull losses and gradients are mmpose's."""

    def _ae_loss_per_image(self, tags: Tensor, keypoint_indices: Tensor):
        pull_loss, push_loss = super()._ae_loss_per_image(tags, keypoint_indices)
        num_people = int(keypoint_indices[..., 1].bool().any(dim=1).sum())  # people with a visible keypoint
        if num_people > 1:  # the diagonal's N terms exp(0), under mmpose's normalization (same eps)
            push_loss = push_loss - num_people / ((num_people - 1) * num_people + 1e-6)
        return pull_loss, push_loss


@MODELS.register_module()
class TrainableAssociativeEmbeddingHead(AssociativeEmbeddingHead):
    """``AssociativeEmbeddingHead`` (same arguments) whose single-scale test without flip works: heatmaps and tags
    (B, K, h, w) are resized to the input size when ``restore_heatmap_size`` is set, then decoded by the codec.
    Every other case (flip test, multi-scale) is mmpose's ``predict``."""

    def predict(self, feats: Features, batch_data_samples: OptSampleList, test_cfg: ConfigType = {}) -> Predictions:
        if test_cfg.get('multiscale_test', False) or test_cfg.get('flip_test', False):
            return super().predict(feats, batch_data_samples, test_cfg)
        heatmaps, tags = self.forward(feats)
        if test_cfg.get('restore_heatmap_size', False):
            h, w = batch_data_samples[0].metainfo['img_shape']
            if any(tuple(d.metainfo['img_shape']) != (h, w) for d in batch_data_samples):
                raise ValueError('restore_heatmap_size needs one img_shape per batch, got '
                                 f'{[d.metainfo["img_shape"] for d in batch_data_samples]}')
            align_corners = test_cfg.get('align_corners', False)
            heatmaps = aggregate_heatmaps([heatmaps], size=(w, h), align_corners=align_corners, mode='average')
            tags = aggregate_heatmaps([tags], size=(w, h), align_corners=align_corners, mode='concat')
        preds = self.decode((heatmaps, tags))
        if test_cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=hm, tags=tg) for hm, tg in zip(heatmaps.detach(), tags.detach())]
        return preds


__all__ = ['AssociativeEmbeddingTargets', 'AssociativeEmbeddingHeatmapLoss', 'AssociativeEmbeddingTagLoss',
           'TrainableAssociativeEmbeddingHead']
