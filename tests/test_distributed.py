"""Data-parallel training on the CPU: 2 gloo processes through torchrun, mmengine's launcher and tools/train.py.

Against one process with the same global batch (4 = 2 ranks x 2), same seed and sample order, no random
augmentation and no drop path: the ranks read disjoint halves of each global batch, end with identical weights, and
follow the single-process loss curve. The curves are not bitwise equal: each rank's BatchNorm in the classic decoder
normalises its own 2 samples (no SyncBN), and gradients are averaged in another order.
"""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
from vitpose_mm.datasets.synthetic import generate_synthetic_coco

DEMO_CFG = osp.join(ROOT, 'configs', 'demo', 'td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96.py')
pytestmark = pytest.mark.slow


def _config(data, work) -> str:
    """The demo config made tiny and deterministic (no random box transform, no drop path), with the probe hook."""
    path = osp.join(work, 'cfg.py')
    os.makedirs(work, exist_ok=True)
    with open(path, 'w') as f:
        f.write(f"""_base_ = [{DEMO_CFG!r}]
custom_imports = dict(imports=['vitpose_mm', 'dist_probe'], allow_failed_imports=False)
custom_hooks = [dict(type='ProbeHook', out_dir={str(work)!r})]
model = dict(backbone=dict(embed_dim=64, depth=2, num_heads=4, drop_path_rate=0.0),
             head=dict(in_channels=64, num_deconv_filters=(32, 32)))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=2))
train_cfg = dict(max_epochs=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=100))
train_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(
    data_root={data['root'] + '/'!r},
    pipeline=[dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
              dict(type='TopdownAffine', input_size=(96, 128), use_udp=True),
              dict(type='GenerateTarget', encoder={{{{_base_.codec}}}}), dict(type='PackPoseInputs')]))
""")
    return path


def _train(data, work, nproc: int, batch: int):
    cfg = _config(data, work)
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([osp.join(ROOT, 'tests'), os.environ.get('PYTHONPATH', '')]),
           'OMP_NUM_THREADS': '1'}
    train = [osp.join(ROOT, 'tools', 'train.py'), cfg, '--work-dir', str(work), '--no-validate',
             '--cfg-options', f'train_dataloader.batch_size={batch}']
    if nproc > 1:
        cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(nproc), '--master_port',
               '29533', *train, '--launcher', 'pytorch']
    else:
        cmd = [sys.executable, *train]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return [json.load(open(osp.join(work, f'probe_rank{r}.json'))) for r in range(nproc)], \
        [torch.load(osp.join(work, f'probe_rank{r}.pth'), weights_only=True) for r in range(nproc)]


def test_two_gloo_processes_match_one_process(tmp_path):
    data = generate_synthetic_coco(tmp_path / 'synthetic', num_train=6, num_val=0, seed=2)
    (one,), (w_one,) = _train(data, tmp_path / 'one', nproc=1, batch=4)
    (r0, r1), (w0, w1) = _train(data, tmp_path / 'two', nproc=2, batch=2)
    assert len(r0) == len(r1) == len(one) >= 4
    for a, b, single in zip(r0, r1, one):
        assert not set(a['ids']) & set(b['ids'])  # each rank its own samples
        assert sorted(a['ids'] + b['ids']) == sorted(single['ids'])  # together: the single process's batch
    # DDP keeps the parameters identical; BatchNorm running statistics stay per rank (SyncBN needs CUDA)
    params = [k for k in w0 if not k.endswith(('running_mean', 'running_var', 'num_batches_tracked'))]
    assert len(params) > 20
    for k in params:
        assert torch.equal(w0[k], w1[k]), k
    two = [(a['loss'] + b['loss']) / 2 for a, b in zip(r0, r1)]
    single = [s['loss'] for s in one]
    rel = max(abs(x - y) / abs(y) for x, y in zip(two, single))
    assert rel < 0.05, (two, single)
    drift = max((w0[k] - w_one[k]).abs().max().item() for k in params)
    assert drift < 0.05
