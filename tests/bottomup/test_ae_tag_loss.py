"""The associative-embedding tag loss of the bottom-up demo config on a hand-made two-person sample: the keypoint
indices its train pipeline packs point at the heatmap peaks, and the head's pull and push losses on random
(not per-person constant) tags equal a hand computation of the associative-embedding loss (Newell et al., NeurIPS
2017, section 3; the official pose-ae-train ``singleTagLoss``: pull = mean over people of the mean squared distance
of each visible keypoint's tag to the person's mean tag, push = mean over ordered pairs of different people of
exp(-(mean tag difference)^2), times 0.5)."""
import os.path as osp
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import vitpose_mm  # noqa: F401  (registration)
from conftest import ROOT

DEMO = osp.join(ROOT, 'configs', 'bottomup', 'demo', 'bottomup_ViTPose-tiny_1xb16_synthetic-128x160.py')


def two_person_sample(cfg):
    """A 160x128 image (the demo's input size) with two people of 17 keypoints; person 0 has keypoints 3 and 9
    unlabelled (v=0), person 1 has keypoint 16 outside the image. Through the demo's train pipeline without the
    image loading and with the random affine at zero probabilities."""
    rng = np.random.default_rng(0)
    kpts = np.stack([np.stack([rng.uniform(8, 70, 17), rng.uniform(8, 120, 17)], -1),
                     np.stack([rng.uniform(90, 152, 17), rng.uniform(8, 120, 17)], -1)]).astype(np.float32)
    vis = np.ones((2, 17), np.float32)
    vis[0, [3, 9]] = 0
    kpts[1, 16] = (170., 60.)  # outside the 160-pixel-wide image: not visible in the heatmap
    results = dict(img=np.zeros((128, 160, 3), np.uint8), img_shape=(128, 160), ori_shape=(128, 160),
                   keypoints=kpts, keypoints_visible=vis, bbox=np.array([[4, 4, 74, 124], [86, 4, 156, 124]],
                                                                        np.float32),
                   area=np.array([70. * 120, 70. * 120], np.float32), id=[1, 2], img_id=1, category_id=[1, 1],
                   num_keypoints=17, invalid_segs=[], flip_indices=list(range(17)))
    pipeline = [dict(t, shift_prob=0., scale_prob=0., rotate_prob=0.) if t['type'] == 'BottomupRandomAffine' else t
                for t in cfg.train_dataloader.dataset.pipeline if t['type'] != 'LoadImage']
    return Compose(pipeline)(results), kpts


@pytest.fixture(scope='module')
def demo():
    cfg = Config.fromfile(DEMO)
    init_default_scope('mmpose')
    sample, kpts = two_person_sample(cfg)
    head = MODELS.build(cfg.model.head)
    return cfg, sample, kpts, head


def test_packed_keypoint_indices_point_at_the_heatmap_peaks(demo):
    cfg, sample, kpts, _ = demo
    ds = sample['data_samples']
    indices = ds.gt_instance_labels.keypoint_indices  # (N, K, 2): y * w + x on the 40x32 heatmap, visibility
    heatmaps = ds.gt_fields.heatmaps  # (K, 32, 40)
    assert tuple(heatmaps.shape) == (17, 32, 40) and tuple(indices.shape) == (2, 17, 2)
    visible = indices[..., 1].bool()
    assert visible.sum().item() == 31  # 34 minus two unlabelled, minus one outside the image
    assert not visible[0, 3] and not visible[0, 9] and not visible[1, 16]
    x, y = np.floor(kpts / 4 + 0.5).astype(np.int64).transpose(2, 0, 1)  # heatmap stride 4, nearest pixel
    np.testing.assert_array_equal(indices[..., 0][visible].numpy(), (y * 40 + x)[visible.numpy()])
    flat = heatmaps.flatten(1)  # (K, H * W)
    for n, k in visible.nonzero().tolist():
        assert flat[k, indices[n, k, 0]] == pytest.approx(1.0, abs=1e-6), (n, k)  # the gaussian's peak
    assert ds.gt_fields.heatmap_mask.all()  # no crowd, no unannotated person: every pixel supervised


def hand_ae_loss(tags, indices):
    """Pull and push of one image by hand (tags (K, H, W), indices (N, K, 2)), before the loss weights."""
    flat = tags.flatten(1)
    means, pulls = [], []
    for ind in indices:
        t = torch.stack([flat[k, ind[k, 0]] for k in range(len(ind)) if ind[k, 1]])
        means.append(t.mean())
        pulls.append(((t - t.mean()) ** 2).mean())
    pull = torch.stack(pulls).mean()
    m = torch.stack(means)
    pairs = [torch.exp(-(m[i] - m[j]) ** 2) for i in range(len(m)) for j in range(len(m)) if i != j]
    push = torch.stack(pairs).mean() * 0.5
    return pull, push


def test_head_tag_loss_on_random_tags_is_the_hand_computed_pull_and_push(demo):
    cfg, sample, _, head = demo
    batch = pseudo_collate([sample, sample])
    gen = torch.Generator().manual_seed(1)
    heatmaps = torch.rand(2, 17, 32, 40, generator=gen)
    tags = torch.randn(2, 17, 32, 40, generator=gen)  # not constant per person
    with mock.patch.object(type(head), 'forward', lambda self, feats: (heatmaps, tags)):
        losses = head.loss(None, batch['data_samples'])
    weight = cfg.model.head.tag_loss.loss_weight
    pull, push = hand_ae_loss(tags[0], sample['data_samples'].gt_instance_labels.keypoint_indices)
    pull1, push1 = hand_ae_loss(tags[1], sample['data_samples'].gt_instance_labels.keypoint_indices)
    assert pull.item() > 0.5  # random unit-variance tags: about 1 per keypoint
    torch.testing.assert_close(losses['loss_pull'], weight * (pull + pull1))  # summed over the batch, as mmpose
    torch.testing.assert_close(losses['loss_push'], weight * (push + push1))
