"""Sharded data-parallel training (FSDP) on the CPU: 2 gloo processes, mmengine's FlexibleRunner and ViTPoseFSDPStrategy
through ``ViTPoseFlexibleRunner``, one FSDP unit per ViT block (``vit_block_wrap_policy``), gradient checkpointing and
the layer-decay groups, against one plain process with the same global batch."""
import json
import os.path as osp

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


def test_fsdp_two_processes_match_one_process(tmp_path):
    data = generate_synthetic_coco(tmp_path / 'synthetic', num_train=6, num_val=0, seed=2)
    one, two = tmp_path / 'one', tmp_path / 'two'
    probe = '[dict(type="ProbeHook", out_dir={!r})]'
    run_train(tiny_config(data['root'], str(one), probe.format(str(one))), one,
              ['--cfg-options', 'train_dataloader.batch_size=4'])
    proc = run_train(tiny_config(data['root'], str(two), probe.format(str(two)), extra=FSDP), two,
                     ['--cfg-options', 'train_dataloader.batch_size=2', 'model.backbone.use_checkpoint=True'], nproc=2)
    log = proc.stdout + proc.stderr
    assert 'FullyShardedDataParallel' in log or 'FSDP' in log
    # layer decay saw the original shapes: the blocks' matrices are decayed, their biases and norms are not
    assert 'layer_1_decay: lr_scale=1 lr=0.001 weight_decay=0.05 tensors=4' in log
    assert 'layer_1_no_decay: lr_scale=1 lr=0.001 weight_decay=0.0 tensors=8' in log
    single = [r['loss'] for r in json.load(open(one / 'probe_rank0.json'))]
    ranks = [json.load(open(two / f'probe_rank{r}.json')) for r in range(2)]
    sharded = [(a['loss'] + b['loss']) / 2 for a, b in zip(*ranks)]
    assert len(sharded) == len(single) >= 4
    assert max(abs(x - y) / y for x, y in zip(sharded, single)) < 1e-3
    # the checkpoint is a full state dict that a plain model loads strictly, close to the single process's weights
    full = torch.load(two / 'epoch_2.pth', weights_only=True)['state_dict']
    plain = torch.load(one / 'probe_rank0.pth', weights_only=True)
    assert sorted(full) == sorted(plain)
    params = [k for k in plain if not k.endswith(('running_mean', 'running_var', 'num_batches_tracked'))]
    assert max((full[k] - plain[k]).abs().max().item() for k in params) < 2e-3
    assert osp.isfile(two / 'last_checkpoint')
