"""Training and evaluation through the real tools (tools/train.py, tools/test.py, mim), tiny schedules."""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from vitpose_mm.synthetic import generate_synthetic_coco

pytestmark = pytest.mark.slow  # every test runs tools/train.py, tools/test.py or mim in a subprocess

DEMO_CFG = osp.join(ROOT, 'configs', 'demo', 'td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96.py')
# a 2-block model, 1 epoch, no workers: the plumbing, not the accuracy
TINY = ['model.backbone.depth=2', 'optim_wrapper.paramwise_cfg.num_layers=2', 'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1', 'train_dataloader.batch_size=4',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False', 'val_dataloader.batch_size=8',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False', 'test_dataloader.batch_size=8',
        'param_scheduler.0.end=2', 'randomness.seed=0']


def data_options(root, train_ann, val_ann, train_img, val_img):
    opts = [f'train_dataloader.dataset.data_root={root}', f'train_dataloader.dataset.ann_file={train_ann}',
            f'train_dataloader.dataset.data_prefix.img={train_img}']
    for split in ('val', 'test'):  # the config's test_* are copies of val_*, made when it was parsed
        opts += [f'{split}_dataloader.dataset.data_root={root}', f'{split}_dataloader.dataset.ann_file={val_ann}',
                 f'{split}_dataloader.dataset.data_prefix.img={val_img}', f'{split}_evaluator.ann_file={root}/{val_ann}']
    return opts


def run(args, cwd=ROOT, check=True):
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHONWARNINGS='ignore')
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f'{" ".join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n'
                             f'{proc.stderr[-3000:]}')
    return proc


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic')
    generate_synthetic_coco(root, num_train=16, num_val=6, seed=0)
    return str(root)


def synthetic_options(root):
    return data_options(root, 'annotations/person_keypoints_train.json', 'annotations/person_keypoints_val.json',
                        'train/', 'val/')


def read_metrics(work_dir):
    with open(osp.join(work_dir, 'metrics.json')) as f:
        return json.load(f)


@pytest.fixture(scope='module')
def trained(synthetic, tmp_path_factory):
    """One tiny training run on the synthetic data, reused by the tests below."""
    work = str(tmp_path_factory.mktemp('work'))
    run([sys.executable, 'tools/train.py', DEMO_CFG, '--work-dir', work, '--cfg-options', *TINY,
         *synthetic_options(synthetic)])
    with open(osp.join(work, 'last_checkpoint')) as f:
        return work, f.read().strip()


def test_train_then_test_on_synthetic(trained, synthetic, tmp_path):
    work, ckpt = trained
    assert osp.isfile(ckpt)
    run([sys.executable, 'tools/test.py', DEMO_CFG, ckpt, '--work-dir', str(tmp_path), '--out',
         str(tmp_path / 'pred.pkl'), '--cfg-options', *TINY, *synthetic_options(synthetic)])
    metrics = read_metrics(str(tmp_path))
    assert {'coco/AP', 'coco/AR', 'coco/AP .5'} <= set(metrics)
    assert 0.0 <= metrics['coco/AP'] <= 1.0
    run([sys.executable, 'tools/draw_predictions.py', str(tmp_path / 'pred.pkl'), str(tmp_path / 'pred.jpg')])
    assert osp.getsize(tmp_path / 'pred.jpg') > 1000


def test_resume_loads_the_runner_checkpoint(trained, synthetic, tmp_path):
    _, ckpt = trained
    proc = run([sys.executable, 'tools/train.py', DEMO_CFG, '--work-dir', str(tmp_path), '--resume', ckpt,
                '--cfg-options', *TINY, 'train_cfg.max_epochs=2', *synthetic_options(synthetic)])
    assert 'resumed epoch: 1' in proc.stdout + proc.stderr
    assert osp.isfile(tmp_path / 'epoch_2.pth')


def test_train_and_evaluate_on_real_coco_samples(samples_dir, tmp_path):
    coco = osp.join(samples_dir, 'coco')
    opts = data_options(coco, 'test_coco.json', 'test_coco.json', '', '')
    run([sys.executable, 'tools/train.py', DEMO_CFG, '--work-dir', str(tmp_path), '--cfg-options', *TINY, *opts])
    with open(tmp_path / 'last_checkpoint') as f:
        ckpt = f.read().strip()
    run([sys.executable, 'tools/test.py', DEMO_CFG, ckpt, '--work-dir', str(tmp_path / 'test'), '--cfg-options',
         *TINY, *opts])
    metrics = read_metrics(str(tmp_path / 'test'))
    assert 'coco/AP' in metrics and 0.0 <= metrics['coco/AP'] <= 1.0


def test_mim_train_and_test(synthetic, tmp_path):
    mim = shutil.which('mim', path=osp.dirname(sys.executable))
    if mim is None:
        pytest.skip('mim is not installed next to this python')
    opts = [*TINY, *synthetic_options(synthetic)]
    # run from another directory: mim must find the config by name in the installed package
    run([mim, 'train', 'vitpose_mm', osp.basename(DEMO_CFG), '--work-dir', str(tmp_path), '--cfg-options', *opts],
        cwd=str(tmp_path))
    ckpt = osp.join(str(tmp_path), 'epoch_1.pth')
    run([mim, 'test', 'vitpose_mm', osp.basename(DEMO_CFG), '--checkpoint', ckpt, '--work-dir',
         str(tmp_path / 'test'), '--cfg-options', *opts], cwd=str(tmp_path))
    assert 'coco/AP' in read_metrics(str(tmp_path / 'test'))


# ---- bad input: one clear error naming the file or key ------------------------------------------------------
def test_unknown_backbone_argument_is_named(synthetic, tmp_path):
    proc = run([sys.executable, 'tools/train.py', DEMO_CFG, '--work-dir', str(tmp_path), '--cfg-options', *TINY,
                'model.backbone.not_an_arg=1', *synthetic_options(synthetic)], check=False)
    assert proc.returncode != 0 and 'not_an_arg' in proc.stderr


def test_missing_checkpoint_is_named(synthetic, tmp_path):
    proc = run([sys.executable, 'tools/test.py', DEMO_CFG, str(tmp_path / 'nope.pth'), '--work-dir', str(tmp_path)],
               check=False)
    assert proc.returncode != 0 and 'nope.pth' in proc.stderr


def test_truncated_checkpoint_is_named(trained, synthetic, tmp_path):
    _, ckpt = trained
    data = open(ckpt, 'rb').read()
    (tmp_path / 'cut.pth').write_bytes(data[:len(data) // 3])
    proc = run([sys.executable, 'tools/test.py', DEMO_CFG, str(tmp_path / 'cut.pth'), '--work-dir', str(tmp_path),
                '--cfg-options', *TINY, *synthetic_options(synthetic)], check=False)
    assert proc.returncode != 0 and 'cut.pth' in proc.stderr.splitlines()[-1]


def test_checkpoint_with_other_shapes_is_refused_naming_the_key(trained, synthetic, tmp_path):
    _, ckpt = trained  # a 2-block, 192-d model; test it as a 3-block model: blocks.2 missing
    proc = run([sys.executable, 'tools/test.py', DEMO_CFG, ckpt, '--work-dir', str(tmp_path), '--cfg-options',
                *TINY, 'model.backbone.depth=3', *synthetic_options(synthetic)], check=False)
    assert proc.returncode != 0 and 'backbone.blocks.2' in proc.stderr
    proc = run([sys.executable, 'tools/test.py', DEMO_CFG, ckpt, '--work-dir', str(tmp_path), '--cfg-options',
                *TINY, 'model.head.out_channels=16', *synthetic_options(synthetic)], check=False)
    assert proc.returncode != 0 and 'head.final_layer.weight' in proc.stderr and '(17, 128, 1, 1)' in proc.stderr
    assert any(line.lstrip().startswith('fix:') and '17' in line and '16' in line for line in proc.stderr.splitlines())


def test_unreadable_image_is_named(synthetic, tmp_path):
    root = tmp_path / 'broken'
    shutil.copytree(synthetic, root)
    victim = sorted(os.listdir(root / 'train'))[0]
    (root / 'train' / victim).write_bytes(b'not a jpeg')
    proc = run([sys.executable, 'tools/train.py', DEMO_CFG, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                *TINY, *synthetic_options(str(root))], check=False)
    assert proc.returncode != 0 and victim in proc.stderr
