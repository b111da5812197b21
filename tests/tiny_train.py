"""Shared by the tests that run real training processes: the demo config made tiny, and how to run tools/train.py."""
import os
import os.path as osp
import socket
import subprocess
import sys
from typing import Sequence

from conftest import ROOT

DEMO_CFG = osp.join(ROOT, 'configs', 'demo', 'td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96.py')


def tiny_config(data_root: str, work: str, hooks: str, epochs: int = 2, augment: bool = False,
                drop_path: float = 0.0, extra: str = '') -> str:
    """Write a config deriving from the demo one: 2 blocks of 64 channels, ``hooks`` (a Python list literal of
    custom hooks), optionally without the random box transform, ``extra`` config lines appended; returns its
    path."""
    os.makedirs(work, exist_ok=True)
    path = osp.join(work, 'cfg.py')
    pipeline = '' if augment else """
    pipeline=[dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
              dict(type='TopdownAffine', input_size=(96, 128), use_udp=True),
              dict(type='GenerateTarget', encoder={{_base_.codec}}), dict(type='PackPoseInputs')],"""
    with open(path, 'w') as f:
        f.write(f"""_base_ = [{DEMO_CFG!r}]
custom_imports = dict(imports=['vitpose_mm', 'train_probe'], allow_failed_imports=False)
custom_hooks = {hooks}
model = dict(backbone=dict(embed_dim=64, depth=2, num_heads=4, drop_path_rate={drop_path}),
             head=dict(in_channels=64, num_deconv_filters=(32, 32)))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=2))
train_cfg = dict(max_epochs={epochs})
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1, max_keep_ckpts=-1))
train_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict({pipeline}
    data_root={data_root + '/'!r}))
{extra}
""")
    return path


def run_train(cfg: str, work: str, args: Sequence[str] = (), nproc: int = 1, check: bool = True,
              validate: bool = False):
    """tools/train.py (through torchrun with ``--launcher pytorch`` when ``nproc > 1``) with tests/ importable."""
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([osp.join(ROOT, 'tests'), os.environ.get('PYTHONPATH', '')]),
           'OMP_NUM_THREADS': '1'}
    train = [osp.join(ROOT, 'tools', 'train.py'), cfg, '--work-dir', str(work), *args]
    if not validate:
        train.insert(4, '--no-validate')
    if nproc > 1:
        cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(nproc), '--master_port',
               str(_free_port()), *train, '--launcher', 'pytorch']
    else:
        cmd = [sys.executable, *train]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def _free_port() -> int:
    """A port no other process listens on now (tests of several checkouts may run side by side)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def overfit_tiny_model(data_dir: str, steps: int = 40, amp_dtype=None):
    """The demo model made tiny (2 blocks of 64 channels), trained in this process for ``steps`` AdamW steps on the
    crops of 4 synthetic images (mmpose's dataset and pipeline, no random transform), so that its heatmaps have
    peaks. ``amp_dtype`` (e.g. ``'bfloat16'``): train through ``vitpose_mm``'s ``AutocastOptimWrapper``.
    Returns ``(model, batch, losses)``: the model in eval mode, the collated crops, the loss of each step."""
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS, MODELS

    import vitpose_mm  # noqa: F401
    from vitpose_mm.synthetic import generate_synthetic_coco
    data = generate_synthetic_coco(data_dir, num_train=4, num_val=0, seed=5)
    cfg = Config.fromfile(DEMO_CFG)
    cfg.merge_from_dict({'model.backbone.embed_dim': 64, 'model.backbone.depth': 2, 'model.backbone.num_heads': 4,
                         'model.backbone.drop_path_rate': 0.0, 'model.head.in_channels': 64,
                         'model.head.num_deconv_filters': (32, 32), 'optim_wrapper.paramwise_cfg.num_layers': 2})
    if amp_dtype is not None:
        cfg.optim_wrapper.update(type='AutocastOptimWrapper', dtype=amp_dtype)
    init_default_scope('mmpose')
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.update(data_root=data['root'], ann_file=data['train']['ann_file'], data_prefix=dict(img='train/'),
                  pipeline=[p for p in cfg.train_pipeline if p['type'] != 'RandomBBoxTransform'])
    dataset = DATASETS.build(ds_cfg)
    batch = pseudo_collate([dataset[i] for i in range(min(6, len(dataset)))])
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    losses = []
    for _ in range(steps):
        with optim.optim_context(model):
            data_in = model.data_preprocessor(batch, training=True)
            loss = sum(v for k, v in model(**data_in, mode='loss').items() if 'loss' in k)
        optim.update_params(loss)
        losses.append(loss.item())
    return model.eval(), batch, losses
