"""What the distiller reads off the teacher's config, checkpoint and token file, and the arguments it refuses
(vitpose_mm.models.distillers.teacher and the construction of KnowledgeTokenDistiller)."""
import copy
import os.path as osp
import re
from typing import Optional

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from distill_utils import PREPROCESSOR, batch, distill_files, distiller, model_cfg, save_model
from vitpose_mm.models.distillers.knowledge_token import _vit_width, _with_tokens, heatmap_gt_losses
from vitpose_mm.models.distillers.teacher import (FrozenTeacher, build_teacher, check_compatible, heatmap_size,
                                                  input_size, load_teacher_checkpoint, num_keypoints, read_token,
                                                  teacher_model_cfg)

init_default_scope('mmpose')
KD = dict(type='KeypointMSELoss')


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    return distill_files(tmp_path_factory.mktemp('distill_checks'))


# ---- the teacher's config ---------------------------------------------------------------------------------
def test_teacher_config_as_a_whole_config_a_config_dict_or_a_file(tmp_path):
    """A whole config dict and an mmengine ConfigDict give the model as a plain dict, copied (never the caller's)."""
    whole = dict(model=model_cfg(), train_cfg=dict(max_epochs=1))
    model, name = teacher_model_cfg(whole)
    assert model == model_cfg() and name == '<teacher config dict>'
    model['backbone']['embed_dim'] = 8
    assert whole['model']['backbone']['embed_dim'] == 32
    model, _ = teacher_model_cfg(Config(whole).model)
    assert type(model) is dict and type(model['backbone']) is dict and model == model_cfg()
    (tmp_path / 'no_model.py').write_text('train_cfg = dict(max_epochs=1)\n')
    with pytest.raises(ValueError, match=r'no_model.py.*`model`'):
        teacher_model_cfg(str(tmp_path / 'no_model.py'))
    with pytest.raises(ValueError, match=r"\['backbone', 'head'\]"):
        teacher_model_cfg(dict(backbone={}, head={}))
    with pytest.raises(ValueError, match='got keys'):
        teacher_model_cfg(dict(model='not a dict'))
    with pytest.raises(TypeError, match='int'):
        teacher_model_cfg(3)


def test_sizes_and_keypoints_read_off_a_model_config():
    """Input (w, h) from the codec, else from the backbone's img_size (h, w, or one int); heatmap (w, h); K."""
    cfg = model_cfg(img=(64, 48), heatmap=(12, 16), keypoints=14)
    assert (input_size(cfg), heatmap_size(cfg), num_keypoints(cfg)) == ((48, 64), (12, 16), 14)
    del cfg['head']['decoder']
    cfg['backbone']['img_size'] = (96, 72)
    assert (input_size(cfg), heatmap_size(cfg)) == ((72, 96), None)
    cfg['backbone']['img_size'] = 80
    assert input_size(cfg) == (80, 80)
    assert input_size(dict(backbone=dict(img_size=[64, 48]), head=None)) == (48, 64)
    assert (input_size(dict(backbone={})), heatmap_size({}), num_keypoints({})) == (None, None, None)
    assert input_size(dict(head=dict(decoder=dict(input_size=[48.0, 64.0])))) == (48, 64)


def test_heatmap_size_is_compared_only_for_heatmap_distillation():
    teacher, student = model_cfg(img=(64, 48), heatmap=(24, 32)), model_cfg(img=(64, 48), heatmap=(12, 16))
    check_compatible(teacher, 't.py', student, PREPROCESSOR, need_heatmaps=False)
    with pytest.raises(ValueError, match=r't.py.*\(24, 32\).*\(12, 16\).*head.decoder.heatmap_size'):
        check_compatible(teacher, 't.py', student, PREPROCESSOR, need_heatmaps=True)
    # a size or count the teacher's config does not state is not compared
    unsized = model_cfg(keypoints=14)
    del unsized['head']['decoder'], unsized['head']['out_channels']
    check_compatible(unsized, 't.py', student, PREPROCESSOR, need_heatmaps=True)
    check_compatible(student, 't.py', unsized, PREPROCESSOR, need_heatmaps=True)


@pytest.mark.parametrize('change', [dict(std=[1.0, 1.0, 1.0]), dict(bgr_to_rgb=False), dict(mean=[0.0] * 3)])
def test_teacher_normalisation_is_compared_entry_by_entry(change):
    """mean, std and bgr_to_rgb must be those of the student's preprocessor; lists and tuples compare alike."""
    student = dict(PREPROCESSOR, mean=tuple(PREPROCESSOR['mean']), std=tuple(PREPROCESSOR['std']))
    check_compatible(model_cfg(), 't.py', model_cfg(), student, need_heatmaps=True)
    teacher = dict(model_cfg(), data_preprocessor=dict(PREPROCESSOR, **change))
    key = next(iter(change))
    with pytest.raises(ValueError, match=rf"t.py.*'{key}'"):
        check_compatible(teacher, 't.py', model_cfg(), student, need_heatmaps=False)
    check_compatible(dict(model_cfg(), data_preprocessor=None), 't.py', model_cfg(), None, need_heatmaps=False)


# ---- the teacher's weights --------------------------------------------------------------------------------
def test_teacher_checkpoint_must_be_a_local_file(files):
    model = build_teacher(model_cfg(), 't.py', files['teacher']['checkpoint'])
    for path in ('', None):
        with pytest.raises(ValueError, match=r't.py.*checkpoint'):
            load_teacher_checkpoint(model, path, 't.py')
    with pytest.raises(ValueError, match='https://x/t.pth'):
        load_teacher_checkpoint(model, 'https://x/t.pth', 't.py')


class _Parts(torch.nn.Module):
    """A model with or without a ``backbone`` and a ``head`` attribute (``with_head=None``: set to None)."""

    def __init__(self, with_backbone: bool = True, with_head: object = 'absent',
                 data_preprocessor: Optional[dict] = None):
        super().__init__()
        if with_backbone:
            self.backbone = torch.nn.Linear(1, 1)
        if with_head != 'absent':
            self.head = torch.nn.Linear(1, 1) if with_head else None


def test_teacher_must_be_a_topdown_estimator_with_a_head(files):
    """Both a backbone and a head (not None) are needed; a model with both goes on to the checkpoint."""
    ckpt = files['teacher']['checkpoint']
    for parts in (dict(), dict(with_head=None), dict(with_backbone=False, with_head=True)):
        with pytest.raises(ValueError, match='t.py.*_Parts'):
            build_teacher(dict(type=_Parts, **parts), 't.py', ckpt)
    with pytest.raises(ValueError, match='t.py.*ViT'):
        build_teacher(model_cfg()['backbone'], 't.py', ckpt)
    with pytest.raises(ValueError, match=rf'{re.escape(ckpt)}.*t.py'):
        build_teacher(dict(type=_Parts, with_head=True), 't.py', ckpt)


def test_teacher_built_from_its_checkpoint_ignores_pretraining_init_cfg(files):
    """The teacher's and its backbone's init_cfg are dropped (the checkpoint has every weight); the caller's config
    is left as it is."""
    cfg = model_cfg()
    cfg['init_cfg'] = dict(type='Pretrained', checkpoint='missing_model.pth')
    cfg['backbone']['init_cfg'] = dict(type='Pretrained', checkpoint='missing_backbone.pth')
    teacher = build_teacher(cfg, 't.py', files['teacher']['checkpoint'])
    assert teacher.init_cfg is None and teacher.backbone.init_cfg is None
    assert cfg['backbone']['init_cfg']['checkpoint'] == 'missing_backbone.pth' and 'init_cfg' in cfg
    saved = torch.load(files['teacher']['checkpoint'])['state_dict']
    assert all(torch.equal(v, saved[k]) for k, v in teacher.state_dict().items())


def test_frozen_teacher_runs_in_eval_mode_without_graph(files):
    network = build_teacher(model_cfg(), 't.py', files['teacher']['checkpoint']).train()
    teacher = FrozenTeacher(network)
    assert repr(teacher) == 'FrozenTeacher(TopdownPoseEstimator, not saved)'
    assert not network.training and not any(p.requires_grad for p in network.parameters())
    assert all(m._is_init for m in network.modules() if hasattr(m, '_is_init'))
    x = batch()[0].requires_grad_(True)
    out = teacher(x)
    assert out.shape == (2, 17, 16, 12) and not out.requires_grad
    with torch.no_grad():  # eval mode: drop path (0.1) off, so the output is that of the network in eval mode
        torch.testing.assert_close(out, network.eval()(x, None, mode='tensor'), rtol=0, atol=0)


# ---- the token file ---------------------------------------------------------------------------------------
def test_token_file_shapes_and_dtype(tmp_path):
    """(n, C) tokens gain the batch axis; a half-precision or trainable token comes back float32 and detached."""
    def token_file(tensor, key='backbone.extra_tokens'):
        path = tmp_path / f'{len(list(tmp_path.iterdir()))}.pth'
        torch.save({'state_dict': {key: tensor}}, path)
        return str(path)

    token = torch.randn(2, 16)
    read = read_token(token_file(token))
    assert read.shape == (1, 2, 16) and torch.equal(read[0], token)
    read = read_token(token_file(token.half().unsqueeze(0)))
    assert read.dtype == torch.float32 and torch.equal(read, token.half().float().unsqueeze(0))
    read = read_token(token_file(torch.nn.Parameter(token.unsqueeze(0))))
    assert not read.requires_grad
    assert read_token(token_file(token.unsqueeze(0), key='my.token'), key='my.token').shape == (1, 2, 16)
    for bad in (torch.randn(2, 1, 16), torch.randn(1, 0, 16), torch.randn(1, 1, 1, 16), torch.randn(16)):
        with pytest.raises(ValueError) as error:
            read_token(token_file(bad))
        assert str(tuple(bad.shape)) in str(error.value)
    with pytest.raises(ValueError, match='knowledge_token.*checkpoint'):
        read_token('')


# ---- the distiller's arguments ----------------------------------------------------------------------------
def test_backbone_width_and_token_count_checks():
    assert _vit_width(dict(type='ViT')) == 768 and _vit_width(dict(type='ViT', embed_dim=32)) == 32
    backbone = dict(type='vitpose_mm.ViT', embed_dim=32)
    assert _with_tokens(backbone, 2, trainable=False) == dict(backbone, num_extra_tokens=2,
                                                              extra_tokens_trainable=False)
    assert _with_tokens(backbone, 2, trainable=True, own=False)['num_extra_tokens'] == 0
    assert backbone == dict(type='vitpose_mm.ViT', embed_dim=32)  # the caller's config is not changed
    assert _with_tokens(dict(backbone, num_extra_tokens=1), 1, trainable=True)['num_extra_tokens'] == 1
    with pytest.raises(ValueError, match=r'num_extra_tokens=2.*1 token'):
        _with_tokens(dict(backbone, num_extra_tokens=2), 1, trainable=True)
    with pytest.raises(ValueError, match='frozen.*extra_tokens_trainable'):
        _with_tokens(dict(backbone, extra_tokens_trainable=True), 1, trainable=False)
    with pytest.raises(ValueError, match='learned.*extra_tokens_trainable'):
        _with_tokens(dict(backbone, extra_tokens_trainable=False), 1, trainable=True)
    assert _with_tokens(dict(backbone, extra_tokens_trainable=False), 1, trainable=False)['num_extra_tokens'] == 1


def test_stage_arguments_are_checked(files):
    teacher = files['teacher']
    with pytest.raises(ValueError, match='stage.*got 3'):
        distiller(stage=3, teacher=teacher)
    with pytest.raises(ValueError, match='stage 1.*teacher='):
        distiller(stage=1)
    for bad in (0, True, 1.0):
        with pytest.raises(ValueError, match=rf'num_tokens.*got {bad!r}'):
            distiller(stage=1, teacher=teacher, num_tokens=bad)
    with pytest.raises(ValueError, match=r"stage 1.*\['backbone', 'neck', 'head', "
                                         r"'knowledge_token', 'heatmap_distill'\]"):
        distiller(stage=1, teacher=teacher, backbone={}, neck={}, head={}, knowledge_token={}, heatmap_distill=KD)
    assert MODELS.build(dict(type='KnowledgeTokenDistiller', knowledge_token=dict(checkpoint=files['stage1']),
                             **{k: v for k, v in model_cfg().items() if k != 'type'})).stage == 2  # the default
    student = model_cfg(embed=16)
    for missing in ('backbone', 'head'):
        with pytest.raises(ValueError, match='stage 2.*backbone and head'):
            distiller(student=dict(student, **{missing: None}), heatmap_distill=KD, teacher=teacher)
    with pytest.raises(ValueError, match='heatmap_distill.*teacher='):
        distiller(heatmap_distill=KD, knowledge_token=dict(checkpoint=files['stage1']))
    with pytest.raises(ValueError, match=r"knowledge_token.*\['proj'\].*\['checkpoint', 'key', 'proj_trainable'\]"):
        distiller(knowledge_token=dict(checkpoint=files['stage1'], proj=False))
    regression = dict(student, head=dict(type='RegressionHead', in_channels=16, num_joints=17,
                                         decoder=dict(type='RegressionLabel', input_size=(48, 64))))
    with pytest.raises(ValueError, match='heatmap_distill.*RegressionHead'):
        distiller(student=regression, teacher=teacher, heatmap_distill=KD)


def test_stage1_takes_token_count_and_test_cfg_from_its_arguments_or_the_teacher(files):
    teacher = files['teacher']
    model = distiller(stage=1, teacher=teacher, num_tokens=2)
    assert model.backbone.extra_tokens.shape == (1, 2, 32) and model.backbone.extra_tokens.requires_grad
    assert model.test_cfg == dict(flip_test=False)
    assert distiller(stage=1, teacher=teacher, test_cfg=dict(flip_test=True)).test_cfg == dict(flip_test=True)
    # the teacher's pre-training init_cfg is not applied over its checkpoint
    cfg = model_cfg()
    cfg['backbone']['init_cfg'] = dict(type='Pretrained', checkpoint='missing_backbone.pth')
    model = distiller(stage=1, teacher=dict(teacher, config=cfg))
    assert model.backbone.init_cfg is None


def test_token_key_and_equal_width_token(files, tmp_path):
    """``knowledge_token.key`` names the tensor; an equal-width token is the backbone's own frozen token."""
    token = torch.randn(1, 1, 16)
    torch.save({'state_dict': {'student.token': token}}, tmp_path / 'keyed.pth')
    model = distiller(knowledge_token=dict(checkpoint=str(tmp_path / 'keyed.pth'), key='student.token'))
    assert model.token_proj is None and model.student_tokens() is None
    assert torch.equal(model.backbone.extra_tokens.detach(), token) and not model.backbone.extra_tokens.requires_grad
    assert model.backbone.num_extra_tokens == 1


def test_heatmap_gt_losses_accuracy_counts_visible_keypoints_only():
    """``acc_pose`` is mmpose's PCK over the keypoints of non-zero weight; ``compute_acc=False`` leaves it out, in
    the distiller's loss too."""
    head = MODELS.build(model_cfg()['head']).eval()
    _, samples = batch()
    gt = torch.stack([s.gt_fields.heatmaps for s in samples])
    heatmaps = gt.clone()
    heatmaps[:, 9:] = gt[:, 9:].roll(6, dims=-1)  # keypoints 9.. predicted elsewhere: wrong, but invisible
    for s in samples:
        s.gt_instance_labels.keypoint_weights[0, 9:] = 0
    losses = heatmap_gt_losses(head, heatmaps, samples, {})
    assert set(losses) == {'loss_kpt', 'acc_pose'} and float(losses['acc_pose']) == 1.0
    assert set(heatmap_gt_losses(head, heatmaps, samples, dict(compute_acc=False))) == {'loss_kpt'}


def test_train_cfg_reaches_the_ground_truth_loss(files):
    for kd in (None, KD):
        model = distiller(teacher=files['teacher'], knowledge_token=dict(checkpoint=files['stage1']),
                          heatmap_distill=kd, train_cfg=dict(compute_acc=False))
        assert 'acc_pose' not in model.loss(*batch()) and 'loss_kpt' in model.loss(*batch())


def test_heatmap_distillation_with_keypoint_weights(files):
    """``use_target_weight=True``: the ground-truth keypoint weights mask the student-teacher MSE, keypoint by
    keypoint: mean over B, K, h, w of w_bk * (student - teacher)^2, scaled by loss_weight."""
    model = distiller(teacher=files['teacher'], heatmap_distill=dict(KD, use_target_weight=True, loss_weight=3.0))
    model.eval()
    x, samples = batch()
    samples[0].gt_instance_labels.keypoint_weights[0, :9] = 0
    samples[1].gt_instance_labels.keypoint_weights[0, 4] = 0.5
    with torch.no_grad():
        losses = model.loss(x, samples)
        student = model.head.forward(model.extract_feat(x))
        teacher = model.teacher(x, None, mode='tensor')
    w = torch.cat([s.gt_instance_labels.keypoint_weights for s in samples])[:, :, None, None]
    expected = 3.0 * (w * (student - teacher) ** 2).mean()
    torch.testing.assert_close(losses['loss_kd_heatmap'], expected)
    unweighted = distiller(teacher=files['teacher'], heatmap_distill=dict(KD, loss_weight=3.0))
    unweighted.load_state_dict(model.state_dict())
    with torch.no_grad():
        plain = unweighted.eval().loss(x, samples)['loss_kd_heatmap']
    torch.testing.assert_close(plain, 3.0 * ((student - teacher) ** 2).mean())
    assert not torch.isclose(plain, expected)


def test_teacher_heatmaps_of_another_shape_stop_the_step(files, tmp_path):
    """A teacher whose config states the student's heatmap size but whose head makes others is caught at the
    first loss, not broadcast."""
    cfg = model_cfg()
    cfg['head'] = dict(cfg['head'], num_deconv_layers=2, num_deconv_filters=(16, 16), num_deconv_kernels=(4, 4))
    teacher = dict(config=cfg, checkpoint=save_model(cfg, tmp_path / 'deeper.pth'))
    model = distiller(teacher=teacher, heatmap_distill=KD)
    with pytest.raises(RuntimeError, match=r'\(2, 17, 32, 24\).*\(2, 17, 16, 12\)'):
        model.loss(*batch())


def test_conversions_without_a_teacher(files):
    """``.double()`` of a token-only distiller (no teacher to move) converts the student and its token."""
    model = distiller(knowledge_token=dict(checkpoint=files['stage1']))
    model.double()
    assert model.knowledge_token.dtype == torch.float64 and model.teacher is None
    assert copy.deepcopy(model).token_proj.weight.dtype == torch.float64


def test_a_neck_is_frozen_with_the_teacher_in_stage1_and_runs_in_stage2(files):
    """Stage 1: the teacher's neck is part of the frozen teacher (eval mode under ``train()``); stage 2: the
    student's neck runs between backbone and head (here it doubles the feature map, so the heatmaps double)."""
    neck = dict(type='FeatureMapProcessor', scale_factor=2.0)
    teacher = dict(files['teacher'], config=dict(model_cfg(), neck=neck))  # the neck has no weights
    model = distiller(stage=1, teacher=teacher).train()
    assert model.with_neck and not model.neck.training and not model.head.training
    assert model.backbone.training is False and model.backbone.extra_tokens.requires_grad
    model = distiller(knowledge_token=dict(checkpoint=files['stage1']), neck=neck)
    with torch.no_grad():
        assert model.eval()(batch()[0], None, mode='tensor').shape == (2, 17, 32, 24)


def test_stage1_init_weights_keeps_the_teacher_checkpoint(files, tmp_path):
    """The runner's ``init_weights()`` would re-draw the head (mmpose's Normal(0, 0.001) init) over the teacher's
    trained weights: the frozen teacher is marked initialised. The checkpoint's weights here are far from any init."""
    sd = torch.load(files['teacher']['checkpoint'])['state_dict']
    sd = {k: torch.full_like(v, 0.5) if k.startswith('head.') and v.is_floating_point() else v for k, v in sd.items()}
    torch.save({'state_dict': sd}, tmp_path / 'trained.pth')
    model = distiller(stage=1, teacher=dict(config=model_cfg(), checkpoint=str(tmp_path / 'trained.pth')))
    model.init_weights()
    assert all((v == 0.5).all() for k, v in model.state_dict().items() if k.startswith('head.') and 'running' not in k
               and 'num_batches' not in k)


def test_heatmap_size_is_checked_only_with_heatmap_distillation(files):
    """A teacher whose heatmaps are another size can still give its token's width check, not heatmap targets."""
    teacher = dict(files['teacher'], config=model_cfg(heatmap=(24, 32)))  # same weights, another codec
    token = dict(checkpoint=files['stage1'])
    assert distiller(teacher=teacher, knowledge_token=token).teacher is not None
    with pytest.raises(ValueError, match=r'heatmap size.*\(24, 32\).*\(12, 16\)'):
        distiller(teacher=teacher, knowledge_token=token, heatmap_distill=KD)


def test_student_input_size_from_its_backbone_when_its_head_has_no_codec(files):
    student = model_cfg(embed=16)
    del student['head']['decoder']
    teacher = dict(files['teacher'], config=model_cfg(img=(128, 96), heatmap=(24, 32)))
    with pytest.raises(ValueError, match=r'input size.*\(96, 128\).*\(48, 64\)'):
        distiller(student=student, teacher=teacher, knowledge_token=dict(checkpoint=files['stage1']))


def test_init_cfg_and_metainfo_reach_the_estimator(files):
    """``init_cfg`` is applied by ``init_weights()``; ``metainfo`` becomes the estimator's (parsed) ``metainfo``."""
    import mmpose
    coco = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', '_base_', 'datasets', 'coco.py')
    model = distiller(knowledge_token=dict(checkpoint=files['stage1']), metainfo=dict(from_file=coco),
                      init_cfg=dict(type='Constant', layer='Linear', val=0.25, bias=0.))
    model.init_weights()
    assert (model.backbone.blocks[0].attn.qkv.weight == 0.25).all()
    assert model.metainfo['dataset_name'] == 'coco' and model.metainfo['num_keypoints'] == 17


def test_token_with_a_teacher_that_is_not_a_vit(files, tmp_path):
    """A teacher without ``embed_dim`` (not a ViT) cannot be checked against the token's width: no check."""
    teacher = _Parts(with_head=True)
    torch.save({'state_dict': teacher.state_dict()}, tmp_path / 'parts.pth')
    config = dict(type=_Parts, with_head=True, data_preprocessor=PREPROCESSOR)
    model = distiller(teacher=dict(config=config, checkpoint=str(tmp_path / 'parts.pth')),
                      knowledge_token=dict(checkpoint=files['stage1']))
    assert isinstance(model.teacher, _Parts) and model.token_proj is not None


class _MSEWithoutWeights(torch.nn.Module):
    """A distillation loss with no ``use_target_weight`` attribute: it must be called without weights."""

    def forward(self, output, target, weights=None):
        assert weights is None
        return ((output - target) ** 2).mean()


def test_a_loss_without_use_target_weight_gets_no_weights(files):
    model = distiller(teacher=files['teacher'], heatmap_distill=dict(type=_MSEWithoutWeights)).eval()
    x, samples = batch()
    with torch.no_grad():
        losses = model.loss(x, samples)
        student = model.head.forward(model.extract_feat(x))
    torch.testing.assert_close(losses['loss_kd_heatmap'], ((student - model._teacher(x)) ** 2).mean())


def test_teacher_checkpoint_recording_another_grid_is_refused_not_resampled(files, tmp_path):
    """Same number of patches, another grid (6x8 recorded, 8x6 built): refused, as another input size is, where
    the package's loader would resample the position embedding (docstring: a teacher is never resampled)."""
    ckpt = torch.load(files['teacher']['checkpoint'])
    ckpt['meta']['vitpose_mm'] = dict(grid=[6, 8], patch_size=[8, 8])
    torch.save(ckpt, tmp_path / 'transposed.pth')
    with pytest.raises(ValueError, match=r'transposed.pth.*t.py.*6x8.*8x6'):
        build_teacher(model_cfg(), 't.py', str(tmp_path / 'transposed.pth'))
    ckpt['meta']['vitpose_mm'] = dict(grid=[8, 6], patch_size=[8, 8])  # its own grid: loaded as it is
    torch.save(ckpt, tmp_path / 'recorded.pth')
    teacher = build_teacher(model_cfg(), 't.py', str(tmp_path / 'recorded.pth'))
    assert torch.equal(teacher.backbone.pos_embed, ckpt['state_dict']['backbone.pos_embed'])
