"""Kill and resume: a training process killed with SIGKILL mid-epoch, resumed with ``--resume``, ends with weights
bitwise equal to an uninterrupted run's (same seed, CPU), random augmentations and drop path included.

What makes it exact: mmengine restores model, optimizer, schedulers and the epoch; the sampler's order is a function
of (seed, epoch); ``EpochSeedHook`` re-seeds the augmentation and drop-path randomness at every epoch start; the
resumed run redoes the interrupted epoch from the last checkpoint. Checkpoints are written atomically
(``ViTPoseRunner.save_checkpoint``), so a kill during a write never leaves a file that resume would take.
"""
import glob
import os.path as osp

import pytest
import torch

from tiny_train import run_train, tiny_config
from vitpose_mm.synthetic import generate_synthetic_coco

pytestmark = pytest.mark.slow
EPOCHS = 3


def _final(work):
    return torch.load(osp.join(work, 'probe_rank0.pth'), weights_only=True)


def test_sigkill_mid_epoch_then_resume_is_bitwise_equal(tmp_path):
    data = generate_synthetic_coco(tmp_path / 'synthetic', num_train=6, num_val=0, seed=4)
    hooks = '[dict(type="EpochSeedHook"), dict(type="ProbeHook", out_dir={work!r}){kill}]'
    batch = ['--cfg-options', 'train_dataloader.batch_size=4']

    full = tmp_path / 'full'
    run_train(tiny_config(data['root'], str(full), hooks.format(work=str(full), kill=''), epochs=EPOCHS,
                          augment=True, drop_path=0.1), full, batch)
    iters = len(glob.glob(str(full / 'epoch_*.pth')))
    assert iters == EPOCHS

    work = tmp_path / 'killed'
    # the kill lands in the middle of epoch 2 (epochs have ceil(instances / 4) iterations; see the probe's log)
    per_epoch = len(__import__('json').load(open(full / 'probe_rank0.json'))) // EPOCHS
    assert per_epoch >= 2
    kill_at = per_epoch + per_epoch // 2
    cfg = tiny_config(data['root'], str(work), hooks.format(work=str(work), kill=f', dict(type="KillAtIterHook", '
                                                                                 f'at_iter={kill_at})'),
                      epochs=EPOCHS, augment=True, drop_path=0.1)
    proc = run_train(cfg, work, batch, check=False)
    assert proc.returncode == -9, proc.stderr[-3000:]  # SIGKILL, no clean-up
    assert osp.isfile(work / 'epoch_1.pth') and not osp.isfile(work / 'epoch_2.pth')
    assert not glob.glob(str(work / '.*.part')) + glob.glob(str(work / '*.part'))

    resumed_cfg = tiny_config(data['root'], str(work), hooks.format(work=str(work), kill=''), epochs=EPOCHS,
                              augment=True, drop_path=0.1)
    run_train(resumed_cfg, work, ['--resume', *batch])
    want, got = _final(full), _final(work)
    assert sorted(want) == sorted(got)
    for k in want:
        assert torch.equal(want[k], got[k]), k


def test_without_epoch_seeding_resume_differs(tmp_path):
    """The control: the same kill and resume without EpochSeedHook does not give the same weights."""
    data = generate_synthetic_coco(tmp_path / 'synthetic', num_train=6, num_val=0, seed=4)
    hooks = '[dict(type="ProbeHook", out_dir={work!r}){kill}]'
    batch = ['--cfg-options', 'train_dataloader.batch_size=4']
    full, work = tmp_path / 'full', tmp_path / 'killed'
    run_train(tiny_config(data['root'], str(full), hooks.format(work=str(full), kill=''), epochs=2, augment=True,
                          drop_path=0.1), full, batch)
    per_epoch = len(__import__('json').load(open(full / 'probe_rank0.json'))) // 2
    proc = run_train(tiny_config(data['root'], str(work), hooks.format(
        work=str(work), kill=f', dict(type="KillAtIterHook", at_iter={per_epoch + 1})'), epochs=2, augment=True,
        drop_path=0.1), work, batch, check=False)
    assert proc.returncode == -9
    run_train(tiny_config(data['root'], str(work), hooks.format(work=str(work), kill=''), epochs=2, augment=True,
                          drop_path=0.1), work, ['--resume', *batch])
    want, got = _final(full), _final(work)
    assert any(not torch.equal(want[k], got[k]) for k in want)
