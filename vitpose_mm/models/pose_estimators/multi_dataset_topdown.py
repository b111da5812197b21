# References: ViTAE-Transformer/ViTPose mmpose/models/detectors/top_down_moe.py (ViTPose+ training: per-sample
# expert index, one head per dataset, loss of each head over its own samples); mmpose 1.3.2 TopdownPoseEstimator.
"""ViTPose+ as an mmpose 1.x top-down estimator: one backbone, one head per dataset, each sample routed by its dataset.

How a sample finds its expert and head: every mmpose dataset writes its metainfo ``dataset_name`` into each sample,
``PackPoseInputs`` keeps it in the data sample's metainfo (one of its default ``meta_keys``), also through mmpose's
``CombinedDataset`` (each sub-dataset runs its own pipeline). This estimator looks the name up in ``heads`` (after
``eval_with``), takes that head's expert index from ``experts`` and passes the per-sample indices to the backbone as
``dataset_source``. Shuffling, repeating or resampling the datasets changes nothing: the name travels with the sample.

Differences from the official ``TopDownMoE``, on purpose:

- each head sees only its own samples, with its own codec targets, target weights and keypoint count: nothing is
  padded (the official code stacks all targets into one tensor and crashes when keypoint counts differ, issue #78);
- the loss of each head is its mean loss over its samples times (its samples / batch size), i.e. every sample counts
  once, as in the official masked loss; heads without samples in a batch get an exact zero gradient (the official
  code runs every head on every sample), which keeps DDP's all-parameters-used contract;
- the flip test uses each dataset's own flip indices (the official code uses the first sample's for the whole batch).
"""
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModel, ModuleDict
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.models.utils import check_and_update_config
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptMultiConfig, SampleList

from ..backbones.expert_index import check_expert_indices


@MODELS.register_module()
class MultiDatasetTopdownPoseEstimator(TopdownPoseEstimator):
    """Top-down pose estimator trained on several datasets at once (ViTPose+, or plain joint training).

    Args:
        backbone: backbone config. A ``ViT`` with ``num_expert > 1`` and ``part_features > 0`` gets each sample's
            expert index as ``dataset_source``; any other backbone is called without it (joint training with shared
            weights and one head per dataset).
        heads: ``{dataset_name: head config}``, ordered; ``dataset_name`` is the one in the dataset's metainfo
            (``coco``, ``aic``, ``mpii``, ``ap10k``, ``apt36k``, ``coco_wholebody`` ...; see
            :mod:`vitpose_mm.datasets.facts`). A head's ``out_channels`` must equal its dataset's keypoint count.
        experts: ``{dataset_name: expert index}`` for every head. Defaults to the position in ``heads`` when the
            backbone has experts (the ViTPose+ order when ``heads`` is in that order), else unused.
        eval_with: ``{dataset_name: head name}`` for datasets that use another dataset's head and expert, e.g.
            ``dict(ochuman='coco')`` (OCHuman is evaluated with the COCO head in ViTPose+).
        trainable: regular expressions (``re.fullmatch`` on parameter names); when given, every other parameter is
            frozen (``requires_grad=False``, so the layer-decay optimizer constructor leaves it out of the optimizer)
            and BatchNorm layers whose parameters are all frozen stay in eval mode (their running statistics do not
            move). Adding a dataset to a trained model trains only its expert and head this way
            (``vitpose_mm.finetune``, docs/finetune.md).
        neck, train_cfg, test_cfg, data_preprocessor, init_cfg: as in ``TopdownPoseEstimator``; ``test_cfg`` (flip
            test and so on) applies to every head.

    Raises:
        ValueError: no heads; ``experts`` that does not cover exactly the heads or names an index outside
            ``0..num_expert-1``; ``eval_with`` naming a missing head; more heads than experts; a ``trainable``
            pattern that matches no parameter. At run time: a
            sample without ``dataset_name``, of a dataset without a head (KeyError), or whose keypoint count
            differs from its head's.
    """

    head_keypoints_arg = 'out_channels'  # the head argument that is its keypoint count

    def __init__(self,
                 backbone: ConfigType,
                 heads: Dict[str, ConfigType],
                 experts: Optional[Dict[str, int]] = None,
                 eval_with: Optional[Dict[str, str]] = None,
                 neck: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 metainfo: Optional[dict] = None,
                 trainable: Optional[Sequence[str]] = None):
        if metainfo is not None:
            raise ValueError('metainfo: a multi-dataset model takes each sample\'s own dataset metainfo; '
                             'give no model-wide metainfo')
        if not heads:
            raise ValueError('heads must name at least one dataset: {dataset_name: head config}')
        # What BasePoseEstimator.__init__ sets up, minus its single head: mmpose 1.3.2 runs
        # check_and_update_config(neck, head) there, which fails for head=None.
        BaseModel.__init__(self, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.metainfo = None
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = dict(test_cfg or {})
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        self._register_load_state_dict_pre_hook(self._load_state_dict_pre_hook)
        # mmengine's ModuleDict (not torch's): BaseModule.init_weights only reaches children that have init_weights,
        # so heads in a torch ModuleDict kept PyTorch's default init instead of their init_cfg (std 0.001 for the
        # heatmap heads): large initial heatmaps and a long initial plateau in joint training.
        self.heads = ModuleDict()
        for name, cfg in heads.items():
            _, cfg = check_and_update_config(None, cfg)
            head = MODELS.build(cfg)
            head.test_cfg = self.test_cfg.copy()
            self.heads[name] = head
        self.num_expert = int(getattr(self.backbone, 'num_expert', 1)) \
            if getattr(self.backbone, 'part_features', 0) else 1
        self.experts = self._check_experts(experts)
        self.eval_with = dict(eval_with or {})
        for name, target in self.eval_with.items():
            if target not in self.heads:
                raise ValueError(f'eval_with maps dataset {name!r} to {target!r}, which has no head; heads: '
                                 f'{list(self.heads)}')
        self.trainable = None if trainable is None else [re.compile(p) for p in trainable]
        if self.trainable is not None:
            names = [n for n, _ in self.named_parameters()]
            for pattern in self.trainable:
                if not any(pattern.fullmatch(n) for n in names):
                    raise ValueError(f'trainable pattern {pattern.pattern!r} matches no parameter')
            for name, param in self.named_parameters():
                param.requires_grad_(any(p.fullmatch(name) for p in self.trainable))
            self.train(self.training)  # frozen BatchNorm layers in eval mode from the start

    def train(self, mode: bool = True) -> 'MultiDatasetTopdownPoseEstimator':
        """``nn.Module.train``, keeping BatchNorm layers with only frozen parameters in eval mode (``trainable``)."""
        super().train(mode)
        if mode and self.trainable is not None:
            for module in self.modules():
                params = list(module.parameters(recurse=False))
                if isinstance(module, _BatchNorm) and params and not any(p.requires_grad for p in params):
                    module.eval()
        return self

    def _check_experts(self, experts: Optional[Dict[str, int]]) -> Dict[str, int]:
        names = list(self.heads)
        if experts is None:
            if self.num_expert > 1 and len(names) > self.num_expert:
                raise ValueError(f'{len(names)} heads {names} but the backbone has {self.num_expert} experts: give '
                                 'experts={dataset_name: index} to share experts')
            return {name: (i if self.num_expert > 1 else 0) for i, name in enumerate(names)}
        experts = dict(experts)
        if set(experts) != set(names):
            raise ValueError(f'experts must give an index for exactly the heads {names}, got {sorted(experts)}')
        for name, index in experts.items():
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.num_expert:
                raise ValueError(f'experts[{name!r}]={index!r} is not an expert index in 0..{self.num_expert - 1} '
                                 f'(num_expert={self.num_expert})')
        return experts

    # ---- routing ----------------------------------------------------------------------------------------------
    def head_of(self, dataset_name: str) -> str:
        """The head (and expert) name of ``dataset_name``; KeyError naming the heads when it has none."""
        name = self.eval_with.get(dataset_name, dataset_name)
        if name not in self.heads:
            raise KeyError(f'a sample of dataset {dataset_name!r} has no head in this model: heads are '
                           f'{list(self.heads)} (add a head for it, or map it with eval_with={{{dataset_name!r}: '
                           'HEAD}})')
        return name

    def route(self, data_samples: SampleList, device: torch.device) -> Tuple['OrderedDict[str, Tensor]', Tensor]:
        """Group a batch by dataset: ``({dataset_name: sample positions}, per-sample expert indices (B,))``.

        Groups keep the order of ``heads`` (datasets mapped by ``eval_with`` follow their head's group). Raises on
        samples without ``dataset_name``, without a head, or with another keypoint count than their head.
        """
        names = []
        for i, sample in enumerate(data_samples):
            name = sample.metainfo.get('dataset_name')
            if name is None:
                raise ValueError(f'sample {i} ({sample.metainfo.get("img_path", "?")}) carries no dataset_name: use '
                                 "mmpose datasets (their metainfo names them) and keep 'dataset_name' in "
                                 'PackPoseInputs meta_keys')
            head = self.head_of(name)
            count = _keypoint_count(sample)
            expected = getattr(self.heads[head], self.head_keypoints_arg)
            if count is not None and count != expected:
                raise ValueError(f'dataset {name!r} has {count} keypoints per instance but its head {head!r} '
                                 f'predicts {expected} ({self.head_keypoints_arg}); set '
                                 f'heads.{head}.{self.head_keypoints_arg}={count}')
            names.append(name)
        order = {n: i for i, n in enumerate(self.heads)}
        groups: 'OrderedDict[str, Tensor]' = OrderedDict()
        for name in sorted(set(names), key=lambda n: (order[self.head_of(n)], n)):
            groups[name] = torch.tensor([i for i, n in enumerate(names) if n == name], device=device)
        experts = [self.experts[self.head_of(n)] for n in names]
        check_expert_indices(experts, self.num_expert)  # here, on the host: the backbone does not read them back
        source = torch.tensor(experts, dtype=torch.long, device=device)
        return groups, source

    def extract_feat(self, inputs: Tensor, dataset_source: Optional[Tensor] = None) -> Tuple[Tensor, ...]:
        """Backbone (with per-sample experts when it has them) and neck: (B, 3, H, W) -> tuple of features."""
        x = self.backbone(inputs, dataset_source) if self.num_expert > 1 else self.backbone(inputs)
        return self.neck(x) if self.with_neck else x

    # ---- training and inference --------------------------------------------------------------------------------
    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Losses ``{dataset_name}.{loss name}`` (each weighted by its share of the batch) and accuracies."""
        groups, source = self.route(data_samples, inputs.device)
        feats = self.extract_feat(inputs, source)
        losses: Dict[str, Tensor] = {}
        used = set()
        for name, index in groups.items():
            head = self.head_of(name)
            used.add(head)
            part = self.heads[head].loss(_take(feats, index), [data_samples[i] for i in index.tolist()],
                                         train_cfg=self.train_cfg)
            share = index.numel() / len(data_samples)
            for key, value in part.items():
                losses[f'{name}.{key}'] = value * share if 'loss' in key else value
        idle = [p for n, h in self.heads.items() if n not in used for p in h.parameters() if p.requires_grad]
        if idle:  # exact zero gradients for heads without samples in this batch (DDP needs every parameter used)
            first = next(k for k in losses if 'loss' in k)
            losses[first] = losses[first] + sum(p.sum() for p in idle) * 0.
        return losses

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """Predictions of each sample's own head, with flip test by its own dataset's flip indices."""
        groups, source = self.route(data_samples, inputs.device)
        feats = self.extract_feat(inputs, source)
        flip = self.test_cfg.get('flip_test', False)
        feats_flip = self.extract_feat(inputs.flip(-1), source) if flip else None
        instances: List = [None] * len(data_samples)
        fields: List = [None] * len(data_samples)
        for name, index in groups.items():
            sub = _take(feats, index)
            if flip:
                sub = [sub, _take(feats_flip, index)]
            preds = self.heads[self.head_of(name)].predict(sub, [data_samples[i] for i in index.tolist()],
                                                           test_cfg=self.test_cfg)
            pred_instances, pred_fields = preds if isinstance(preds, tuple) else (preds, None)
            for j, i in enumerate(index.tolist()):
                instances[i] = pred_instances[j]
                fields[i] = pred_fields[j] if pred_fields is not None else None
        return self.add_pred_to_datasample(instances, fields if any(f is not None for f in fields) else None,
                                           data_samples)

    def _forward(self, inputs: Tensor, data_samples: Optional[SampleList] = None) -> Dict[str, Tensor]:
        """``{head name: (B, K, h, w) heatmaps}``: every input through every head, each with that head's expert."""
        out = {}
        for name, head in self.heads.items():
            source = torch.full((inputs.shape[0], ), self.experts[name], dtype=torch.long, device=inputs.device)
            out[name] = head.forward(self.extract_feat(inputs, source))
        return out


def _take(feats: Sequence[Tensor], index: Tensor) -> Tuple[Tensor, ...]:
    return tuple(f[index] for f in feats)


def _keypoint_count(sample) -> Optional[int]:
    """Keypoints per instance of a data sample: its dataset's flip indices, else its ground-truth keypoints."""
    flip_indices = sample.metainfo.get('flip_indices')
    if flip_indices is not None:
        return len(flip_indices)
    gt = sample.get('gt_instances')
    if gt is not None and 'keypoints' in gt:
        return int(gt.keypoints.shape[1])
    return None


__all__ = ['MultiDatasetTopdownPoseEstimator']
