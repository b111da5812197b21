"""KnowledgeTokenDistiller: stage 1 and 2, heatmap distillation, the frozen teacher, the deployed student, bad input."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_state_dict as mmengine_load_state_dict
from mmpose.registry import MODELS

from conftest import ROOT, load_tool
from distill_utils import PREPROCESSOR, batch, distill_files, distiller, model_cfg, save_model
from vitpose_mm.checkpoints.student import extract_student
from vitpose_mm.models.distillers.knowledge_token import heatmap_gt_losses
from vitpose_mm.models.distillers.teacher import teacher_model_cfg
from vitpose_mm.utils import configs_dir

extract_tool = load_tool('extract_student')

init_default_scope('mmpose')
DEMO_TEACHER = 'distill/demo/td-hm_ViTPose-tiny-teacher_1xb32-12e_synthetic-128x96.py'


def step(model, lr=1e-2):
    """One optimizer step, with the optimizer constructor the configs use."""
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type='AdamW', lr=lr, weight_decay=0.1),
                                              constructor='ViTPoseLayerDecayOptimWrapperConstructor',
                                              paramwise_cfg=dict(layer_decay_rate=1.0)))
    model.train()
    loss, _ = model.parse_losses(model.loss(*batch()))
    wrapper.update_params(loss)
    return wrapper


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    return distill_files(tmp_path_factory.mktemp('distill'))


# ---- stage 1 ----------------------------------------------------------------------------------------------
def test_stage1_trains_only_the_token_and_keeps_the_teacher_in_eval_mode(files):
    model = distiller(stage=1, teacher=files['teacher'])
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ['backbone.extra_tokens']
    before = snapshot(model)
    wrapper = step(model)
    assert sum(len(g['params']) for g in wrapper.optimizer.param_groups) == 1
    after = snapshot(model)
    assert not torch.equal(after['backbone.extra_tokens'], before['backbone.extra_tokens'])
    for key in before:  # weights and BN statistics of the teacher: bit-identical
        if key != 'backbone.extra_tokens':
            assert torch.equal(after[key], before[key]), key
    model.train()
    assert all(not m.training for m in model.backbone.modules()) and all(not m.training for m in model.head.modules())
    # the stage-1 checkpoint is the teacher plus the token
    teacher_keys = set(torch.load(files['teacher']['checkpoint'])['state_dict'])
    assert set(after) == teacher_keys | {'backbone.extra_tokens'}


def test_stage1_survives_init_weights(files):
    model = distiller(stage=1, teacher=files['teacher'])
    before = snapshot(model)
    model.init_weights()  # the runner calls it before training
    assert all(torch.equal(v, before[k]) for k, v in snapshot(model).items())


# ---- stage 2 ----------------------------------------------------------------------------------------------
def test_stage2_token_is_frozen_and_the_checkpoint_is_a_plain_student(files):
    student = model_cfg(embed=32)  # same width as the teacher: no projection
    model = distiller(student=student, knowledge_token=dict(checkpoint=files['stage1']))
    token = torch.load(files['stage1'])['state_dict']['backbone.extra_tokens']
    assert model.token_proj is None and model.teacher is None
    assert torch.equal(model.backbone.extra_tokens.detach(), token)
    model.init_weights()
    assert torch.equal(model.backbone.extra_tokens.detach(), token)
    step(model)
    assert torch.equal(model.backbone.extra_tokens.detach(), token)
    sd = model.state_dict()
    plain = MODELS.build(dict(student, backbone=dict(student['backbone'], num_extra_tokens=1)))
    plain.load_state_dict(sd, strict=True)
    model.eval(), plain.eval()
    x, samples = batch()
    with torch.no_grad():
        torch.testing.assert_close(plain(x, samples, mode='tensor'), model(x, samples, mode='tensor'))


def test_width_mismatch_goes_through_a_trained_projection(files):
    model = distiller(teacher=files['teacher'], knowledge_token=dict(checkpoint=files['stage1']),
                      heatmap_distill=dict(type='KeypointMSELoss'))
    token = model.knowledge_token.clone()
    w = model.token_proj.weight.detach().clone()
    assert token.shape == (1, 1, 32) and w.shape == (16, 32)
    torch.testing.assert_close(w @ w.t(), 2 * torch.eye(16), atol=1e-5, rtol=0)  # keeps the norm on average
    step(model)
    assert torch.equal(model.knowledge_token, token)  # the teacher's token stays frozen
    assert not torch.equal(model.token_proj.weight.detach(), w)  # the crossing is learned
    sd = model.state_dict()
    # the student's backbone has no token of its own: the checkpoint holds the frozen token and the learned map
    assert 'backbone.extra_tokens' not in sd and {'knowledge_token', 'token_proj.weight'} <= set(sd)
    assert not any(k.startswith('teacher.') for k in sd)
    # the extracted student gives the distiller's outputs, without teacher, token file or projection
    student, dropped = extract_student(sd)
    assert dropped == ['knowledge_token', 'token_proj.weight']
    torch.testing.assert_close(student['backbone.extra_tokens'], token @ model.token_proj.weight.detach().t())
    cfg = model_cfg(embed=16)
    plain = MODELS.build(dict(cfg, backbone=dict(cfg['backbone'], num_extra_tokens=1))).eval()
    plain.load_state_dict(student, strict=True)
    x, samples = batch()
    with torch.no_grad():
        torch.testing.assert_close(plain(x, samples, mode='tensor'), model.eval()(x, samples, mode='tensor'))


def test_the_student_starts_as_without_distillation(files):
    """Same seed, same initial student: the four runs of the measurement differ only in what they distil."""
    torch.manual_seed(3)
    plain = MODELS.build(model_cfg(embed=16))
    plain.init_weights()
    torch.manual_seed(3)
    model = distiller(teacher=files['teacher'], knowledge_token=dict(checkpoint=files['stage1']),
                      heatmap_distill=dict(type='KeypointMSELoss'))
    model.init_weights()
    sd = model.state_dict()
    for key, value in plain.state_dict().items():
        assert torch.equal(sd[key], value), key


def test_frozen_projection_option(files):
    model = distiller(knowledge_token=dict(checkpoint=files['stage1'], proj_trainable=False))
    assert not model.token_proj.weight.requires_grad and model.backbone.num_extra_tokens == 0
    assert all(n.startswith(('backbone.', 'head.')) for n, p in model.named_parameters() if p.requires_grad)


def test_teacher_frozen_in_eval_mode_without_grads_and_out_of_the_checkpoint(files):
    model = distiller(teacher=files['teacher'], heatmap_distill=dict(type='KeypointMSELoss'))
    before = snapshot(model.teacher)
    model.train()
    assert not any(m.training for m in model.teacher.modules())
    model.init_weights()
    step(model)
    assert all(p.grad is None and not p.requires_grad for p in model.teacher.parameters())
    assert all(torch.equal(v, before[k]) for k, v in snapshot(model.teacher).items())
    model.train()
    assert not model.teacher.training and model.backbone.training
    sd = model.state_dict()
    assert not any(k.startswith('teacher.') for k in sd)
    # resume: a checkpoint of the distiller loads back strictly (torch and mmengine), the teacher is untouched; teacher
    # weights in a state dict are surplus keys like any other (no hook drops or injects them)
    fresh = distiller(teacher=files['teacher'], heatmap_distill=dict(type='KeypointMSELoss'))
    fresh.load_state_dict(sd, strict=True)
    mmengine_load_state_dict(fresh, sd, strict=True)
    with pytest.raises(RuntimeError, match=r'unexpected key.*teacher\.head\.final_layer\.bias'):
        mmengine_load_state_dict(fresh, {**sd, 'teacher.head.final_layer.bias': torch.ones(17)}, strict=True)
    assert all(torch.equal(v, before[k]) for k, v in snapshot(fresh.teacher).items())


# ---- how the teacher is held: outside the module tree, moved by _apply, no state-dict hooks -------------------
def kd(files):
    """Token (through a projection) and heatmap distillation: every part of stage 2."""
    return distiller(teacher=files['teacher'], knowledge_token=dict(checkpoint=files['stage1']),
                     heatmap_distill=dict(type='KeypointMSELoss'))


def test_teacher_is_in_no_state_dict_module_list_or_optimizer_group(files):
    model = kd(files)
    teacher = {id(t) for t in [*model.teacher.parameters(), *model.teacher.buffers()]}
    assert len(teacher) > 20
    assert not teacher & {id(t) for t in [*model.parameters(), *model.buffers()]}
    assert not any(m is model.teacher for m in model.modules())
    plain = MODELS.build(model_cfg(embed=16)).state_dict()
    assert set(model.state_dict()) == set(plain) | {'knowledge_token', 'token_proj.weight'}
    wrapper = step(model)
    assert not teacher & {id(p) for group in wrapper.optimizer.param_groups for p in group['params']}


def test_train_leaves_the_teacher_in_eval_mode_and_frozen(files):
    model = kd(files)
    for mode in (True, False, True):
        model.train(mode)
        assert model.backbone.training == mode and model.head.training == mode
        assert not any(m.training for m in model.teacher.modules())
    model.requires_grad_(True)  # unfreezing the whole model reaches the student only
    assert not any(p.requires_grad for p in model.teacher.parameters())


def test_dtype_and_device_conversions_move_the_teacher(files):
    model = kd(files)
    x, _ = batch()
    heatmaps = model._teacher(x)
    model.double()
    assert {t.dtype for t in [*model.teacher.parameters(), model.knowledge_token]} == {torch.float64}
    assert model._teacher(x.double()).dtype == torch.float64
    model.to(torch.float32)
    assert {p.dtype for p in model.teacher.parameters()} == {torch.float32}
    assert torch.equal(model._teacher(x), heatmaps)  # float32 -> float64 -> float32 is exact
    if torch.cuda.is_available():
        model.cuda()
        assert {p.device.type for p in model.teacher.parameters()} == {'cuda'}


def test_saved_distiller_loads_into_a_fresh_one_with_identical_outputs(files, tmp_path):
    from vitpose_mm.checkpoints import load_checkpoint
    model = kd(files)
    step(model)  # student, projection and BN statistics move away from their initial values
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 1}}, tmp_path / 'epoch_1.pth')
    fresh = kd(files)
    x, samples = batch(seed=1)
    model.eval(), fresh.eval()
    with torch.no_grad():
        assert not torch.equal(fresh(x, samples, mode='tensor'), model(x, samples, mode='tensor'))
        load_checkpoint(fresh, str(tmp_path / 'epoch_1.pth'))  # the runner's load_from / --resume path
        assert torch.equal(fresh(x, samples, mode='tensor'), model(x, samples, mode='tensor'))
        assert torch.equal(fresh.loss(x, samples)['loss_kd_heatmap'], model.loss(x, samples)['loss_kd_heatmap'])


def test_state_dict_and_load_state_dict_are_plain(files):
    """Saving computes, writes and drops nothing; loading takes the dict as it is and never reaches the teacher."""
    model = kd(files)
    step(model)
    own = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    before, teacher = snapshot(model), snapshot(model.teacher)
    sd = model.state_dict()
    assert set(sd) == set(own) - {'data_preprocessor.mean', 'data_preprocessor.std'}  # those two: not persistent
    assert all(v.data_ptr() == own[k].data_ptr() for k, v in sd.items())  # the registered tensors themselves
    assert all(torch.equal(v, before[k]) for k, v in snapshot(model).items())
    changed = {k: v + 1 if v.is_floating_point() else v for k, v in sd.items()}
    model.load_state_dict(changed, strict=True)
    assert all(torch.equal(v, changed[k]) for k, v in model.state_dict().items())
    with pytest.raises(RuntimeError, match=r'Unexpected key.*"teacher\.head\.final_layer\.bias"'):
        model.load_state_dict({**sd, 'teacher.head.final_layer.bias': torch.zeros(17)}, strict=True)
    assert all(torch.equal(v, teacher[k]) for k, v in snapshot(model.teacher).items())


def test_ddp_wraps_the_student_only(files, tmp_path):
    """One-process gloo DDP: the teacher's tensors are no DDP parameters, and a training step runs."""
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel
    model = kd(files)
    teacher = snapshot(model.teacher)
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/rendezvous', rank=0, world_size=1)
    try:
        ddp = MMDistributedDataParallel(module=model)
        assert not {id(t) for t in model.teacher.parameters()} & {id(p) for p in ddp.parameters()}
        x, samples = batch()
        data = dict(inputs=[(img * 40 + 128).clamp(0, 255).to(torch.uint8) for img in x], data_samples=samples)
        wrapper = build_optim_wrapper(ddp.module, dict(optimizer=dict(type='AdamW', lr=1e-2)))
        losses = ddp.train_step(data, wrapper)
    finally:
        dist.destroy_process_group()
    assert losses['loss_kd_heatmap'].item() > 0
    assert all(torch.equal(v, teacher[k]) for k, v in snapshot(model.teacher).items())


def test_heatmap_distillation_loss_is_zero_for_the_same_network(files):
    cfg = model_cfg()
    model = distiller(student=cfg, teacher=files['teacher'], heatmap_distill=dict(type='KeypointMSELoss'))
    model.load_state_dict(torch.load(files['teacher']['checkpoint'])['state_dict'], strict=True)
    model.eval()  # the same network in the same (eval) mode; in train mode BN and drop path differ
    x, samples = batch()
    losses = model.loss(x, samples)
    assert losses['loss_kd_heatmap'].item() == 0.0
    assert losses['loss_kpt'].item() > 1e-3
    # the ground-truth part equals the head's own loss
    expected = model.head.loss(model.extract_feat(x), samples, train_cfg={})
    torch.testing.assert_close(losses['loss_kpt'], expected['loss_kpt'], rtol=0, atol=0)
    torch.testing.assert_close(losses['acc_pose'], expected['acc_pose'])
    with torch.no_grad():
        model.head.final_layer.bias.add_(0.1)
    assert model.loss(x, samples)['loss_kd_heatmap'].item() == pytest.approx(0.01, rel=1e-4)


def test_gt_losses_match_head_loss_with_weights():
    head = MODELS.build(model_cfg()['head']).eval()
    feats = (torch.randn(2, 32, 8, 6), )
    _, samples = batch()
    samples[0].gt_instance_labels.keypoint_weights[0, :5] = 0
    torch.testing.assert_close(heatmap_gt_losses(head, head.forward(feats), samples, {})['loss_kpt'],
                               head.loss(feats, samples, train_cfg={})['loss_kpt'], rtol=0, atol=0)


# ---- bad input, refused at construction -------------------------------------------------------------------
def test_missing_teacher_config_and_checkpoint_are_named(files, tmp_path, monkeypatch):
    ckpt = files['teacher']['checkpoint']
    with pytest.raises(FileNotFoundError, match='no_such_teacher.py'):
        distiller(teacher=dict(config='no_such_teacher.py', checkpoint=ckpt),
                  heatmap_distill=dict(type='KeypointMSELoss'))
    # a file of that name in the working directory is not used
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'demo').mkdir()
    (tmp_path / 'demo' / 'mine.py').write_text(f'model = {model_cfg()!r}\n')
    with pytest.raises(FileNotFoundError, match=osp.join('configs', 'demo', 'mine.py')):
        teacher_model_cfg('demo/mine.py')
    assert teacher_model_cfg(str(tmp_path / 'demo' / 'mine.py'))[1] == str(tmp_path / 'demo' / 'mine.py')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        distiller(teacher=dict(config=model_cfg(), checkpoint=str(tmp_path / 'missing.pth')),
                  heatmap_distill=dict(type='KeypointMSELoss'))
    with pytest.raises(ValueError, match='checkpoint='):
        distiller(stage=1, teacher=dict(config=model_cfg()))


@pytest.mark.parametrize('change,match', [
    (dict(keypoints=14), r'keypoints.*14.*17'),
    (dict(img=(128, 96), heatmap=(24, 32)), r'input size.*\(96, 128\).*\(48, 64\)'),
])
def test_teacher_config_that_does_not_match_the_student_is_named(files, change, match):
    with pytest.raises(ValueError, match='<teacher config dict>.*' + match):
        distiller(teacher=dict(config=model_cfg(**change), checkpoint=files['teacher']['checkpoint']),
                  heatmap_distill=dict(type='KeypointMSELoss'))


def test_teacher_checkpoint_that_does_not_match_its_config_is_named(files, tmp_path):
    other_kpts = save_model(model_cfg(keypoints=14), tmp_path / 'kpts14.pth')
    with pytest.raises(ValueError, match='kpts14.pth.*final_layer'):
        distiller(teacher=dict(config=model_cfg(), checkpoint=other_kpts), heatmap_distill=dict(type='KeypointMSELoss'))
    other_size = save_model(model_cfg(img=(128, 96), heatmap=(24, 32)), tmp_path / 'size.pth')
    with pytest.raises(ValueError, match='size.pth.*input size'):
        distiller(stage=1, teacher=dict(config=model_cfg(), checkpoint=other_size))
    with pytest.raises(ValueError, match="'mean'"):
        distiller(stage=1, teacher=dict(config=dict(model_cfg(), data_preprocessor=dict(PREPROCESSOR, mean=[0] * 3)),
                                        checkpoint=files['teacher']['checkpoint']))


def test_token_files_and_other_bad_arguments_are_named(files):
    with pytest.raises(KeyError, match="teacher.pth.*'backbone.extra_tokens'"):
        distiller(knowledge_token=dict(checkpoint=files['teacher']['checkpoint']))
    with pytest.raises(ValueError, match='token16.pth.*16.*32'):
        distiller(teacher=files['teacher'], knowledge_token=dict(checkpoint=files['token16']),
                  heatmap_distill=dict(type='KeypointMSELoss'))
    with pytest.raises(ValueError, match='knowledge_token.*heatmap_distill'):
        distiller(teacher=files['teacher'])
    with pytest.raises(ValueError, match=r"unknown keys \['chekpoint'\]"):
        distiller(teacher=dict(config=model_cfg(), chekpoint='x.pth'))
    with pytest.raises(ValueError, match=r"stage 1.*\['backbone'\]"):
        distiller(stage=1, teacher=files['teacher'], backbone=model_cfg()['backbone'])
    student = model_cfg(embed=16)
    student['backbone'] = dict(type='HRNet', extra={})
    with pytest.raises(ValueError, match="ViT.*'HRNet'"):
        distiller(student=student, knowledge_token=dict(checkpoint=files['stage1']))
    # stage 1 takes the teacher's normalisation when none is given
    stage1 = MODELS.build(dict(type='KnowledgeTokenDistiller', stage=1, teacher=files['teacher']))
    assert stage1.data_preprocessor.mean.flatten().tolist() == pytest.approx(PREPROCESSOR['mean'])


# ---- configs and the extraction tool ----------------------------------------------------------------------
DISTILL_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'distill', '**', '*.py'), recursive=True))


@pytest.mark.parametrize('path', DISTILL_CONFIGS, ids=[osp.basename(p) for p in DISTILL_CONFIGS])
def test_distill_configs_point_to_matching_teachers(path):
    from vitpose_mm.models.distillers.teacher import check_compatible
    model = Config.fromfile(path).model.to_dict()
    if model['type'] != 'KnowledgeTokenDistiller':
        assert model['backbone'].get('num_extra_tokens', 0) in (0, 1)
        return
    if 'teacher' in model:
        teacher, name = teacher_model_cfg(model['teacher']['config'])
        assert name.startswith(configs_dir())
        if model['stage'] == 2:
            check_compatible(teacher, name, model, model['data_preprocessor'], 'heatmap_distill' in model)
    if model['stage'] == 1:
        assert 'backbone' not in model and 'head' not in model
    else:
        assert 'knowledge_token' in model or 'heatmap_distill' in model


def test_extract_tool_errors(files, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        extract_tool.parse_args(['--help'])
    assert e.value.code == 0 and '--config' in capsys.readouterr().out
    assert extract_tool.main([str(tmp_path / 'nope.pth'), str(tmp_path / 'out.pth')]) == 1
    assert 'nope.pth' in capsys.readouterr().err
    plain_micro = osp.join(ROOT, 'configs', 'distill', 'demo', 'td-hm_ViTPose-micro_1xb32-12e_synthetic-128x96.py')
    assert extract_tool.main([files['stage1'], str(tmp_path / 'out.pth'), '--config', plain_micro]) == 1
    assert plain_micro in capsys.readouterr().err and not (tmp_path / 'out.pth').exists()


# ---- end to end with mim ----------------------------------------------------------------------------------
def _mim(*args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='2')
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    result = subprocess.run([mim, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.mark.slow
def test_mim_train_distillation_then_test_the_extracted_student(tmp_path):
    from vitpose_mm.synthetic import generate_synthetic_coco
    data = tmp_path / 'data'
    generate_synthetic_coco(data, num_train=8, num_val=4, seed=0)
    demo = osp.join(ROOT, 'configs', 'distill', 'demo')
    teacher = save_model(Config.fromfile(osp.join(configs_dir(), DEMO_TEACHER)).model.to_dict(), tmp_path / 't.pth')
    torch.save({'state_dict': {'backbone.extra_tokens': torch.randn(1, 1, 192) * 0.02}}, tmp_path / 'stage1.pth')
    data_opts = [f'{k}.dataset.data_root={data}/' for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    data_opts += [f'{k}.ann_file={data}/annotations/person_keypoints_val.json' for k in ('val_evaluator',
                                                                                          'test_evaluator')]
    data_opts += ['train_dataloader.batch_size=4', 'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
                  'test_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
                  'val_dataloader.persistent_workers=False', 'test_dataloader.persistent_workers=False']
    _mim('train', 'vitpose_mm', osp.join(demo, 'kd-token-heatmap_ViTPose-tiny-to-micro_1xb32-12e_synthetic-128x96.py'),
         '--work-dir', str(tmp_path / 'run'), '--cfg-options', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
         'default_hooks.checkpoint.interval=1', f'model.teacher.checkpoint={teacher}',
         f'model.knowledge_token.checkpoint={tmp_path}/stage1.pth', *data_opts, cwd=tmp_path)
    run = torch.load(tmp_path / 'run' / 'epoch_1.pth')['state_dict']  # weights_only: the runner writes plain data
    assert 'token_proj.weight' in run and not any(k.startswith('teacher.') for k in run)
    plain_kt = osp.join(demo, 'td-hm_ViTPose-micro-kt_1xb32-12e_synthetic-128x96.py')
    assert extract_tool.main([str(tmp_path / 'run' / 'epoch_1.pth'), str(tmp_path / 'student.pth'),
                              '--config', plain_kt]) == 0
    out = _mim('test', 'vitpose_mm', plain_kt, '--checkpoint', str(tmp_path / 'student.pth'), '--work-dir',
               str(tmp_path / 'test'), '--cfg-options', *data_opts, cwd=tmp_path)
    assert 'coco/AP' in out and osp.isfile(tmp_path / 'test' / 'metrics.json')
