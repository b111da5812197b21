# References: ViTPose (Xu et al., 2022), section "Knowledge token distillation"; the
# official repository never released this part. Model API: mmpose 1.3.2 TopdownPoseEstimator / HeatmapHead.
"""Knowledge-token distillation and heatmap distillation for ViTPose, as one mmpose pose estimator.

Stage 1 (``stage=1``): the model is the teacher (built from its config, loaded strictly from its checkpoint, every
weight frozen) with ``num_tokens`` learnable extra tokens appended to its patch tokens; only the tokens train, with
the ordinary heatmap loss. The checkpoint of this stage is a plain teacher-with-token model: ``backbone.*``,
``head.*`` and ``backbone.extra_tokens``.

Stage 2 (``stage=2``): the model is the student. ``knowledge_token`` appends the stage-1 tokens, frozen, to the
student's patch tokens; ``heatmap_distill`` adds a loss between the student's heatmaps and those of the teacher
(without token), which runs in eval mode under ``torch.no_grad()``. Either or both.

Width mismatch (e.g. ViTPose-L 1024 -> ViTPose-B 768): the token crosses over through a bias-free linear projection
``token_proj`` (teacher width -> student width), initialised semi-orthogonal and norm-preserving and trained in
stage 2 by default; the stage-1 token itself stays frozen. See docs/distillation.md for why. Equal widths need no
projection: the token is used as it is, as in the paper.

What is deployed is the student alone. The stage-2 teacher is held outside the module tree (a
:class:`~.teacher.FrozenTeacher` attribute, moved along by ``_apply``), so it is in no state dict, optimizer group or
DDP bucket, and ``train()`` never reaches it; every checkpoint of this model holds only ordinary parameters and
buffers, saved and loaded by plain ``state_dict()`` / ``load_state_dict()``. With equal widths the frozen token is the
student's ``backbone.extra_tokens`` and ``backbone.*``/``head.*`` are a plain student checkpoint for a
``ViT(num_extra_tokens=n)`` config; with a projection the checkpoint holds ``knowledge_token`` and ``token_proj.weight``
instead (the student's backbone has no token of its own), and ``tools/extract_student.py`` writes the student with
``backbone.extra_tokens = token_proj(knowledge_token)``.
"""
import inspect
import math
from typing import List, Optional

import torch
from mmpose.evaluation.functional import pose_pck_accuracy
from mmpose.models.heads import HeatmapHead
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.tensor_utils import to_numpy
from mmpose.utils.typing import ConfigType, OptConfigType, OptMultiConfig, SampleList
from torch import Tensor, nn

from ..backbones import ViT
from .teacher import (TOKEN_KEY, FrozenTeacher, build_teacher, check_compatible, check_normalisation, freeze,
                      load_teacher_checkpoint, read_token, teacher_model_cfg)

_TEACHER_KEYS = ('config', 'checkpoint')
_TOKEN_KEYS = ('checkpoint', 'key', 'proj_trainable')


def _check_keys(name: str, cfg: Optional[dict], allowed) -> None:
    if cfg is not None:
        unknown = sorted(set(cfg) - set(allowed))
        if unknown:
            raise ValueError(f'{name} has unknown keys {unknown}; allowed: {list(allowed)}')


def _vit_width(backbone: ConfigType) -> int:
    """The ``embed_dim`` a ViT backbone config builds (the ViT's default when the config does not say)."""
    return int(backbone.get('embed_dim', inspect.signature(ViT).parameters['embed_dim'].default))


def _with_tokens(backbone: ConfigType, num: int, trainable: bool, own: bool = True) -> dict:
    """The backbone config for ``num`` extra tokens (the ViT of this package is the one that carries them): its own
    ``extra_tokens`` parameter, or none when ``own`` is False (the tokens are passed to ``forward``)."""
    if backbone.get('type') not in ('ViT', 'vitpose_mm.ViT'):
        raise ValueError(f'knowledge tokens need a ViT backbone (vitpose_mm), got {backbone.get("type")!r}')
    given = backbone.get('num_extra_tokens')
    if given not in (None, num):
        raise ValueError(f'backbone num_extra_tokens={given}, but {num} token(s) are used')
    if backbone.get('extra_tokens_trainable', trainable) != trainable:
        raise ValueError(f'the knowledge token is {"learned" if trainable else "frozen"} in this stage: remove '
                         'extra_tokens_trainable from the backbone config')
    return dict(backbone, num_extra_tokens=num if own else 0, extra_tokens_trainable=trainable)


def heatmap_gt_losses(head: HeatmapHead, heatmaps: Tensor, data_samples: SampleList, train_cfg: dict) -> dict:
    """``HeatmapHead.loss`` on heatmaps already computed (so that the head runs once per step, not twice)."""
    gt = torch.stack([d.gt_fields.heatmaps for d in data_samples])
    weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in data_samples])
    losses = dict(loss_kpt=head.loss_module(heatmaps, gt, weights))
    if train_cfg.get('compute_acc', True):
        _, acc, _ = pose_pck_accuracy(output=to_numpy(heatmaps), target=to_numpy(gt), mask=to_numpy(weights) > 0)
        losses['acc_pose'] = torch.tensor(acc, device=gt.device)
    return losses


@MODELS.register_module()
class KnowledgeTokenDistiller(TopdownPoseEstimator):
    """ViTPose knowledge-token (stage 1 and 2) and heatmap distillation, trained like any top-down estimator.

    Args:
        stage: 1 learns tokens on the frozen teacher; 2 trains the student.
        teacher: ``dict(config=PATH_OR_DICT, checkpoint=PATH)``. A relative config path is resolved against the
            package's ``configs/`` (e.g. ``'coco/td-hm_ViTPose-large_8xb64-210e_coco-256x192.py'``), never the
            working directory; a dict is a whole config (with ``model``) or a model dict. The checkpoint is loaded
            strictly at construction. Required in stage 1 and for heatmap distillation.
        backbone, neck, head: the student (stage 2 only; stage 1 takes the teacher's).
        knowledge_token: stage 2: ``dict(checkpoint=STAGE1_CKPT, key='backbone.extra_tokens', proj_trainable=True)``;
            the tokens are appended, frozen, to the student's (a ``ViT``) patch tokens. ``proj_trainable`` only
            matters when the token's width differs from the student's (see the module docstring).
        num_tokens: stage 1: number of tokens to learn (the paper uses 1).
        heatmap_distill: stage 2: loss config between student and teacher heatmaps, e.g.
            ``dict(type='KeypointMSELoss', use_target_weight=False, loss_weight=1.0)``; its value is logged as
            ``loss_kd_heatmap``.
        train_cfg, test_cfg, data_preprocessor, init_cfg, metainfo: as ``TopdownPoseEstimator``. In stage 1
            ``test_cfg`` and ``data_preprocessor`` default to the teacher's.
    """

    def __init__(self,
                 stage: int = 2,
                 teacher: Optional[dict] = None,
                 backbone: OptConfigType = None,
                 neck: OptConfigType = None,
                 head: OptConfigType = None,
                 knowledge_token: Optional[dict] = None,
                 num_tokens: int = 1,
                 heatmap_distill: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 metainfo: Optional[dict] = None):
        if stage not in (1, 2):
            raise ValueError(f'stage must be 1 (token learning) or 2 (student training), got {stage!r}')
        _check_keys('teacher', teacher, _TEACHER_KEYS)
        _check_keys('knowledge_token', knowledge_token, _TOKEN_KEYS)
        t_model, t_name = teacher_model_cfg(teacher['config']) if teacher is not None else (None, None)
        token = None
        if stage == 1:
            given = [n for n, v in (('backbone', backbone), ('neck', neck), ('head', head),
                                    ('knowledge_token', knowledge_token), ('heatmap_distill', heatmap_distill))
                     if v is not None]
            if t_model is None:
                raise ValueError('stage 1 learns a token on a trained teacher: give teacher=dict(config=..., '
                                 'checkpoint=...)')
            if given:
                raise ValueError(f'stage 1 takes its network from the teacher config; remove {given}')
            if isinstance(num_tokens, bool) or not isinstance(num_tokens, int) or num_tokens < 1:
                raise ValueError(f'num_tokens must be an int >= 1, got {num_tokens!r}')
            if data_preprocessor is None:
                data_preprocessor = t_model.get('data_preprocessor')
            check_normalisation(t_model, t_name, data_preprocessor)
            backbone = _with_tokens(t_model['backbone'], num_tokens, trainable=True)
            backbone.pop('init_cfg', None)  # the teacher's checkpoint brings every weight
            neck, head = t_model.get('neck'), t_model['head']
            test_cfg = test_cfg if test_cfg is not None else t_model.get('test_cfg')
        else:
            if backbone is None or head is None:
                raise ValueError('stage 2 trains a student: give its backbone and head')
            if knowledge_token is None and heatmap_distill is None:
                raise ValueError('stage 2 without knowledge_token and heatmap_distill is plain training; use '
                                 'TopdownPoseEstimator')
            if heatmap_distill is not None and t_model is None:
                raise ValueError('heatmap_distill needs a teacher: teacher=dict(config=..., checkpoint=...)')
            if t_model is not None:
                check_compatible(t_model, t_name, dict(backbone=backbone, head=head), data_preprocessor,
                                 need_heatmaps=heatmap_distill is not None)
            if knowledge_token is not None:
                token = read_token(knowledge_token.get('checkpoint'), knowledge_token.get('key', TOKEN_KEY))
                backbone = _with_tokens(backbone, token.shape[1], trainable=False,
                                        own=token.shape[-1] == _vit_width(backbone))

        super().__init__(backbone=backbone, neck=neck, head=head, train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg, metainfo=metainfo)
        self.stage = stage
        self._teacher: Optional[FrozenTeacher] = None  # a plain attribute: not a submodule (see FrozenTeacher)
        self.token_proj: Optional[nn.Linear] = None
        self.heatmap_distill_loss: Optional[nn.Module] = None
        if stage == 1:
            self._init_stage1(teacher.get('checkpoint'), t_name)
        else:
            self._init_stage2(t_model, t_name, teacher, knowledge_token, token, heatmap_distill)

    # ---- construction -----------------------------------------------------------------------------------
    def _init_stage1(self, checkpoint: Optional[str], name: str) -> None:
        load_teacher_checkpoint(self, checkpoint, name, allow_missing=[TOKEN_KEY])
        for module in self._frozen_modules():
            freeze(module)
        self.backbone.extra_tokens.requires_grad_(True)

    def _init_stage2(self, t_model, t_name, teacher, knowledge_token, token, heatmap_distill) -> None:
        # The teacher's random init (overwritten by its checkpoint) and the projection's are drawn from a forked
        # generator: the student's weights then start as in a run without distillation under the same seed.
        if t_model is not None:
            with torch.random.fork_rng(devices=[]):
                self._teacher = FrozenTeacher(build_teacher(t_model, t_name, teacher.get('checkpoint')))
            t_width = getattr(self.teacher.backbone, 'embed_dim', None)
            if token is not None and t_width is not None and token.shape[-1] != t_width:
                raise ValueError(f'the token in {knowledge_token["checkpoint"]} is {token.shape[-1]} wide but the '
                                 f'teacher config {t_name} has a {t_width}-wide backbone: not this teacher\'s token')
        if heatmap_distill is not None:
            if not isinstance(self.head, HeatmapHead):
                raise ValueError(f'heatmap_distill needs a heatmap head (HeatmapHead), got {type(self.head).__name__}')
            self.heatmap_distill_loss = MODELS.build(heatmap_distill)
        if token is not None:
            width = self.backbone.embed_dim
            if token.shape[-1] != width:
                self.register_buffer('knowledge_token', token)
                with torch.random.fork_rng(devices=[]):
                    self.token_proj = nn.Linear(token.shape[-1], width, bias=False)
                    # semi-orthogonal, scaled so that the projected token keeps the token's norm on average
                    nn.init.orthogonal_(self.token_proj.weight)
                with torch.no_grad():
                    self.token_proj.weight.mul_(math.sqrt(token.shape[-1] / width))
                self.token_proj.weight.requires_grad_(bool(knowledge_token.get('proj_trainable', True)))
            else:
                with torch.no_grad():
                    self.backbone.extra_tokens.copy_(token)

    def _frozen_modules(self) -> List[nn.Module]:
        """Stage 1: the registered network that must stay in eval mode with frozen weights (the teacher itself)."""
        if self.stage == 1:
            return [m for m in (self.backbone, getattr(self, 'neck', None), self.head) if m is not None]
        return []

    @property
    def teacher(self) -> Optional[nn.Module]:
        """The frozen stage-2 teacher network (None without one). Not a submodule: in no state dict, optimizer group
        or DDP bucket, untouched by ``train()`` and ``init_weights()``, moved with the model by ``_apply``."""
        holder = self.__dict__.get('_teacher')
        return None if holder is None else holder.module

    # ---- modes and devices ------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> 'KnowledgeTokenDistiller':
        """``model.train()`` trains the student (or the token) only; the teacher stays in eval mode."""
        super().train(mode)
        for module in self._frozen_modules():
            module.eval()
        return self

    def _apply(self, fn, recurse: bool = True) -> 'KnowledgeTokenDistiller':
        """``.to()``, ``.cuda()``, ``.half()`` ... convert the teacher too (it is outside the module tree)."""
        super()._apply(fn, recurse)
        holder = self.__dict__.get('_teacher')
        if holder is not None:
            holder.module._apply(fn)
        return self

    # ---- forward ----------------------------------------------------------------------------------------
    def student_tokens(self) -> Optional[Tensor]:
        """The projected token when there is a projection (with gradient to it), else None (the backbone's own)."""
        if self.token_proj is None:
            return None
        return self.token_proj(self.knowledge_token)

    def extract_feat(self, inputs: Tensor):
        tokens = self.student_tokens()
        x = self.backbone(inputs) if tokens is None else self.backbone(inputs, extra_tokens=tokens)
        if self.with_neck:
            x = self.neck(x)
        return x

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        feats = self.extract_feat(inputs)
        if self.heatmap_distill_loss is None:
            return self.head.loss(feats, data_samples, train_cfg=self.train_cfg)
        heatmaps = self.head.forward(feats)
        losses = heatmap_gt_losses(self.head, heatmaps, data_samples, self.train_cfg)
        target = self._teacher(inputs)
        if target.shape != heatmaps.shape:
            raise RuntimeError(f'teacher heatmaps {tuple(target.shape)} vs student heatmaps {tuple(heatmaps.shape)}')
        weights = None
        if getattr(self.heatmap_distill_loss, 'use_target_weight', False):
            weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in data_samples])
        losses['loss_kd_heatmap'] = self.heatmap_distill_loss(heatmaps, target, weights)
        return losses

