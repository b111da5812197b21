"""What the distiller reads off the teacher's config, checkpoint and token file, and the arguments it refuses
(vitpose_mm.models.distillers.teacher and the construction of KnowledgeTokenDistiller)."""
import copy

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
    with pytest.raises(ValueError, match=r'no_model.py has no `model` dict'):
        teacher_model_cfg(str(tmp_path / 'no_model.py'))
    with pytest.raises(ValueError, match=r"model dict \(with `type`\).*got keys \['backbone', 'head'\]"):
        teacher_model_cfg(dict(backbone={}, head={}))
    with pytest.raises(ValueError, match='got keys'):
        teacher_model_cfg(dict(model='not a dict'))
    with pytest.raises(TypeError, match='teacher config must be a path or a dict, got int'):
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
    with pytest.raises(ValueError, match=r"t.py does not match the student: heatmap size \(w, h\) \(24, 32\) vs the "
                                         r"student's \(12, 16\) \(head.decoder.heatmap_size\)"):
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
    with pytest.raises(ValueError, match=rf"t.py normalises its input differently \(.*'{key}'.*\) from this model"):
        check_compatible(teacher, 't.py', model_cfg(), student, need_heatmaps=False)
    check_compatible(dict(model_cfg(), data_preprocessor=None), 't.py', model_cfg(), None, need_heatmaps=False)


# ---- the teacher's weights --------------------------------------------------------------------------------
def test_teacher_checkpoint_must_be_a_local_file(files):
    model = build_teacher(model_cfg(), 't.py', files['teacher']['checkpoint'])
    for path in ('', None):
        with pytest.raises(ValueError, match=r'the teacher \(t.py\) needs a checkpoint'):
            load_teacher_checkpoint(model, path, 't.py')
    with pytest.raises(ValueError, match='teacher checkpoint https://x/t.pth: only local files are supported'):
        load_teacher_checkpoint(model, 'https://x/t.pth', 't.py')


class _BackboneOnly(torch.nn.Module):
    def __init__(self, head: bool = False):
        super().__init__()
        self.backbone = torch.nn.Linear(1, 1)
        self.head = torch.nn.Linear(1, 1) if head else None


class _HeadOnly(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(1, 1)


def test_teacher_must_be_a_topdown_estimator_with_a_head(files):
    """Both a backbone and a head (not None) are needed; a model with both goes on to the checkpoint."""
    ckpt = files['teacher']['checkpoint']
    for model in (_BackboneOnly, _HeadOnly, model_cfg()['backbone']['type']):
        cfg = dict(type=model) if model != 'ViT' else model_cfg()['backbone']
        name = model if isinstance(model, str) else model.__name__
        with pytest.raises(ValueError, match=f't.py builds a {name} without backbone and head; a top-down'):
            build_teacher(cfg, 't.py', ckpt)
    with pytest.raises(ValueError, match='does not fit the teacher config t.py'):
        build_teacher(dict(type=_BackboneOnly, head=True), 't.py', ckpt)


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
        assert f'has shape {tuple(bad.shape)}; expected (1, n, C)' in str(error.value)
    with pytest.raises(ValueError, match='knowledge_token needs the checkpoint of a stage-1 run'):
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
    with pytest.raises(ValueError, match=r'backbone num_extra_tokens=2, but 1 token\(s\) are used'):
        _with_tokens(dict(backbone, num_extra_tokens=2), 1, trainable=True)
    with pytest.raises(ValueError, match='the knowledge token is frozen in this stage: remove extra_tokens_trainable'):
        _with_tokens(dict(backbone, extra_tokens_trainable=True), 1, trainable=False)
    with pytest.raises(ValueError, match='the knowledge token is learned in this stage'):
        _with_tokens(dict(backbone, extra_tokens_trainable=False), 1, trainable=True)
    assert _with_tokens(dict(backbone, extra_tokens_trainable=False), 1, trainable=False)['num_extra_tokens'] == 1


def test_stage_arguments_are_checked(files):
    teacher = files['teacher']
    with pytest.raises(ValueError, match=r'stage must be 1 \(token learning\) or 2 \(student training\), got 3'):
        distiller(stage=3, teacher=teacher)
    with pytest.raises(ValueError, match='stage 1 learns a token on a trained teacher'):
        distiller(stage=1)
    for bad in (0, True, 1.0):
        with pytest.raises(ValueError, match=rf'num_tokens must be an int >= 1, got {bad!r}'):
            distiller(stage=1, teacher=teacher, num_tokens=bad)
    with pytest.raises(ValueError, match=r"stage 1 takes its network from the teacher config; remove \['head', "
                                         r"'heatmap_distill'\]"):
        distiller(stage=1, teacher=teacher, head=model_cfg()['head'], heatmap_distill=KD)
    student = model_cfg(embed=16)
    for missing in ('backbone', 'head'):
        with pytest.raises(ValueError, match='stage 2 trains a student: give its backbone and head'):
            distiller(student=dict(student, **{missing: None}), heatmap_distill=KD, teacher=teacher)
    with pytest.raises(ValueError, match='heatmap_distill needs a teacher'):
        distiller(heatmap_distill=KD, knowledge_token=dict(checkpoint=files['stage1']))
    with pytest.raises(ValueError, match=r"knowledge_token has unknown keys \['proj'\]; allowed: \['checkpoint', "
                                         r"'key', 'proj_trainable'\]"):
        distiller(knowledge_token=dict(checkpoint=files['stage1'], proj=False))
    regression = dict(student, head=dict(type='RegressionHead', in_channels=16, num_joints=17,
                                         decoder=dict(type='RegressionLabel', input_size=(48, 64))))
    with pytest.raises(ValueError, match='heatmap_distill needs a heatmap head .HeatmapHead., got RegressionHead'):
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


def test_heatmap_gt_losses_without_accuracy():
    head = MODELS.build(model_cfg()['head']).eval()
    feats = (torch.randn(2, 32, 8, 6), )
    _, samples = batch()
    losses = heatmap_gt_losses(head, head.forward(feats), samples, dict(compute_acc=False))
    assert set(losses) == {'loss_kpt'}
    losses = heatmap_gt_losses(head, head.forward(feats), samples, {})
    assert set(losses) == {'loss_kpt', 'acc_pose'} and 0 <= float(losses['acc_pose']) <= 1


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
    with pytest.raises(RuntimeError, match=r'teacher heatmaps \(2, 17, 32, 24\) vs student heatmaps '
                                           r'\(2, 17, 16, 12\)'):
        model.loss(*batch())


def test_conversions_without_a_teacher(files):
    """``.double()`` of a token-only distiller (no teacher to move) converts the student and its token."""
    model = distiller(knowledge_token=dict(checkpoint=files['stage1']))
    model.double()
    assert model.knowledge_token.dtype == torch.float64 and model.teacher is None
    assert copy.deepcopy(model).token_proj.weight.dtype == torch.float64
