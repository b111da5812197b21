"""Checkpoints that round-trip under every strategy the package ships, on 2 gloo processes (tools/train.py through
torchrun, the demo model made tiny, random augmentation and drop path on, ``EpochSeedHook``):

- a run killed with SIGKILL in its second epoch and resumed ends bitwise equal to an uninterrupted run (weights,
  optimizer state, schedulers), with DDP and with FSDP (``ViTPoseFSDPStrategy``, full state dicts);
- the optimizer state FSDP saves is the live one (every parameter, both AdamW moments, the step): torch 2.14.1
  saved the last gathered moment for both on the CPU (workaround in ``vitpose_mm/engine/fsdp.py``);
- an FSDP checkpoint resumes in one plain process, a DDP checkpoint under FSDP, with the saved optimizer state
  restored and finite losses.
"""
import json
import shutil

import pytest
import torch

from tiny_train import run_train, tiny_config
from vitpose_mm.synthetic import generate_synthetic_coco

pytestmark = pytest.mark.slow
FSDP = """runner_type = 'ViTPoseFlexibleRunner'
strategy = dict(type='ViTPoseFSDPStrategy', state_dict_cfg='full',
                model_wrapper=dict(device_id='cpu', use_orig_params=True,
                                   auto_wrap_policy=dict(type='vit_block_wrap_policy')))
"""
HOOKS = ('[dict(type="EpochSeedHook"), dict(type="ProbeHook", out_dir={w!r}), '
         'dict(type="OptimStateProbeHook", out_dir={w!r}){kill}]')
BATCH = ['--cfg-options', 'train_dataloader.batch_size=2']


def _cfg(data, work, extra='', kill=''):
    return tiny_config(data['root'], str(work), HOOKS.format(w=str(work), kill=kill), epochs=2, augment=True,
                       drop_path=0.1, extra=extra)


def _kill_and_resume(tmp, extra):
    """An uninterrupted 2-epoch run and one killed mid-epoch 2 then resumed, both on 2 processes."""
    data = generate_synthetic_coco(tmp / 'synthetic', num_train=6, num_val=0, seed=4)
    full, killed = tmp / 'full', tmp / 'killed'
    run_train(_cfg(data, full, extra), full, BATCH, nproc=2)
    per_epoch = len(json.load(open(full / 'probe_rank0.json'))) // 2
    assert per_epoch >= 2
    kill = f', dict(type="KillAtIterHook", at_iter={per_epoch + per_epoch // 2})'
    proc = run_train(_cfg(data, killed, extra, kill), killed, BATCH, nproc=2, check=False)
    assert proc.returncode != 0
    assert (killed / 'epoch_1.pth').is_file() and not (killed / 'epoch_2.pth').exists()
    proc = run_train(_cfg(data, killed, extra), killed, ['--resume', *BATCH], nproc=2)
    return data, full, killed, proc.stdout + proc.stderr


def _assert_bitwise(a, b):
    a, b = torch.load(a, weights_only=False), torch.load(b, weights_only=False)
    assert sorted(a['state_dict']) == sorted(b['state_dict'])
    for k in a['state_dict']:
        assert torch.equal(a['state_dict'][k], b['state_dict'][k]), k
    sa, sb = a['optimizer']['state'], b['optimizer']['state']
    assert sorted(sa, key=str) == sorted(sb, key=str) and len(sa) > 20
    for p in sa:
        for k in ('exp_avg', 'exp_avg_sq', 'step'):
            assert torch.equal(sa[p][k], sb[p][k]), (p, k)
    # the schedulers of every optimizer group; their last value is mmengine 0.10.7's OptimWrapper.base_param_settings
    # (a logging-only group outside the optimizer's state dict, so not restored by a resume)
    groups = len(a['optimizer']['param_groups'])
    for x, y in zip(a['param_schedulers'], b['param_schedulers'], strict=True):
        assert len(x['_last_value']) == groups + 1
        assert x['_last_value'][:groups] == y['_last_value'][:groups]
        assert {k: v for k, v in x.items() if k != '_last_value' and x[k] != y[k]} == {}


def _gathered(work, when):
    """The live optimizer state of both ranks, each parameter's two flat shares joined (FSDP) or rank 0's (DDP)."""
    ranks = [torch.load(work / f'optim_{when}_rank{r}.pth', weights_only=True) for r in range(2)]
    out = {}
    for name in set(ranks[0]) | set(ranks[1]):
        parts = [r[name] for r in ranks if name in r]
        out[name] = {k: torch.cat([p[k].flatten() for p in parts]) for k in ('exp_avg', 'exp_avg_sq')}
        out[name]['step'] = parts[0]['step']
    return out


@pytest.fixture(scope='module')
def fsdp_runs(tmp_path_factory):
    return _kill_and_resume(tmp_path_factory.mktemp('fsdp'), FSDP)


@pytest.fixture(scope='module')
def ddp_runs(tmp_path_factory):
    return _kill_and_resume(tmp_path_factory.mktemp('ddp'), '')


def test_fsdp_saved_optimizer_state_is_the_live_state(fsdp_runs):
    _, full, _, _ = fsdp_runs
    saved = torch.load(full / 'epoch_2.pth', weights_only=False)['optimizer']['state']
    live = _gathered(full, 'after')
    assert sorted(saved) == sorted(live) and len(saved) > 20
    for name, state in saved.items():
        assert state['exp_avg'].data_ptr() != state['exp_avg_sq'].data_ptr(), name
        assert not torch.equal(state['exp_avg'], state['exp_avg_sq']), name
        for k in ('exp_avg', 'exp_avg_sq'):
            assert torch.equal(state[k].flatten(), live[name][k]), (name, k)
        assert torch.equal(state['step'], live[name]['step']), name


def test_fsdp_kill_and_resume_is_bitwise_equal(fsdp_runs):
    _, full, killed, log = fsdp_runs
    assert 'ViTPoseFSDPStrategy' in log
    _assert_bitwise(full / 'epoch_2.pth', killed / 'epoch_2.pth')


def test_ddp_kill_and_resume_is_bitwise_equal(ddp_runs):
    _, full, killed, _ = ddp_runs
    _assert_bitwise(full / 'epoch_2.pth', killed / 'epoch_2.pth')
    # rank 1's parameters too (its BatchNorm statistics are its own: the demo config has no SyncBuffersHook)
    want = torch.load(full / 'probe_rank1.pth', weights_only=True)
    got = torch.load(killed / 'probe_rank1.pth', weights_only=True)
    assert all(torch.equal(want[k], got[k]) for k in want if 'running_' not in k)


def test_fsdp_checkpoint_resumes_in_one_process(fsdp_runs, tmp_path):
    data, full, _, _ = fsdp_runs
    shutil.copy(full / 'epoch_1.pth', tmp_path / 'epoch_1.pth')
    run_train(_cfg(data, tmp_path), tmp_path, ['--resume', str(tmp_path / 'epoch_1.pth'), '--cfg-options',
                                               'train_dataloader.batch_size=4'])
    saved = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)['optimizer']['state']
    live = torch.load(tmp_path / 'optim_before_rank0.pth', weights_only=True)
    assert sorted(saved) == sorted(live)
    for name, state in saved.items():
        for k in ('exp_avg', 'exp_avg_sq', 'step'):
            assert torch.equal(state[k], live[name][k]), (name, k)
    losses = [r['loss'] for r in json.load(open(tmp_path / 'probe_rank0.json'))]
    assert losses and all(torch.isfinite(torch.tensor(losses)))


def test_ddp_checkpoint_resumes_under_fsdp(ddp_runs, fsdp_runs, tmp_path):
    data, ddp_full, _, _ = ddp_runs
    _, fsdp_full, _, _ = fsdp_runs
    shutil.copy(ddp_full / 'epoch_1.pth', tmp_path / 'epoch_1.pth')
    run_train(_cfg(data, tmp_path, FSDP), tmp_path, ['--resume', str(tmp_path / 'epoch_1.pth'), *BATCH], nproc=2)
    saved = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)['optimizer']
    # the parameters' names in optimizer order, from an FSDP checkpoint of the same config
    order = [n for g in torch.load(fsdp_full / 'epoch_1.pth', weights_only=False)['optimizer']['param_groups']
             for n in g['params']]
    position = [i for g in saved['param_groups'] for i in g['params']]
    live = _gathered(tmp_path, 'before')
    assert len(live) == len(saved['state']) > 20
    for i, name in zip(position, order):
        for k in ('exp_avg', 'exp_avg_sq'):
            assert torch.equal(saved['state'][i][k].flatten(), live[name][k]), (name, k)
        assert torch.equal(saved['state'][i]['step'], live[name]['step']), name
    # the first iteration after the resume sees the weights and the data of the uninterrupted DDP run
    per_epoch = len(json.load(open(ddp_full / 'probe_rank0.json'))) // 2
    for r in range(2):
        want = json.load(open(ddp_full / f'probe_rank{r}.json'))[per_epoch]
        got = json.load(open(tmp_path / f'probe_rank{r}.json'))
        assert got[0]['ids'] == want['ids']
        assert got[0]['loss'] == pytest.approx(want['loss'], rel=1e-5)
        assert all(torch.isfinite(torch.tensor([g['loss'] for g in got])))
