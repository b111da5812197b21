"""Both runners share the checkpoint behaviour (CheckpointMixin): mmengine's Runner and its FlexibleRunner
(the one FSDP and DeepSpeed need) save the grid record atomically and load strictly, with the diagnosis."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import RUNNERS

import vitpose_mm  # noqa: F401
from tiny_train import tiny_config
from vitpose_mm.checkpoints import CheckpointMismatchError
from vitpose_mm.synthetic import generate_synthetic_coco

pytestmark = pytest.mark.slow


@pytest.mark.parametrize('runner_type', ['ViTPoseRunner', 'ViTPoseFlexibleRunner'])
def test_runner_saves_the_grid_and_loads_strictly(tmp_path, runner_type):
    data = generate_synthetic_coco(tmp_path / 'synthetic', num_train=2, num_val=0, seed=3)
    cfg = Config.fromfile(tiny_config(data['root'], str(tmp_path / 'work'), '[]', epochs=1))
    cfg.merge_from_dict({'runner_type': runner_type, 'work_dir': str(tmp_path / 'work'),
                         'train_dataloader.batch_size': 4, 'val_cfg': None, 'val_dataloader': None,
                         'val_evaluator': None, 'test_cfg': None, 'test_dataloader': None, 'test_evaluator': None})
    runner = RUNNERS.build(cfg)
    assert type(runner).__name__ == runner_type
    runner.train()
    ckpt_path = tmp_path / 'work' / 'epoch_1.pth'
    ckpt = torch.load(ckpt_path, weights_only=True)
    assert ckpt['meta']['vitpose_mm']['grid'] == [8, 6]  # 128x96 input, 16x16 patches, padding 2
    assert not list((tmp_path / 'work').glob('*.part'))  # hidden temporaries too (pathlib globs dotfiles)

    # the runner's own checkpoint loads back bit for bit; a backbone-only file is refused with the fix
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    runner.load_checkpoint(str(ckpt_path))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    backbone_only = {k[len('backbone.'):]: v for k, v in ckpt['state_dict'].items() if k.startswith('backbone.')}
    torch.save({'state_dict': backbone_only}, tmp_path / 'backbone.pth')
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    changed = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError, match='init_cfg'):
        runner.load_checkpoint(str(tmp_path / 'backbone.pth'))
    assert all(torch.equal(changed[k], v) for k, v in model.state_dict().items())  # nothing half-loaded
    assert osp.isfile(ckpt_path)
