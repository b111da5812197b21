"""Bad input is refused with an error that says what and where; nothing is written or half-loaded."""
import os
import pickle

import pytest
import torch

from convert_utils import build_model, config_name, run_tool, tiny_options
from random_weights import randomize_
from vitpose_mm.checkpoints import LAYOUTS, CheckpointMismatchError, from_vitpose_mm, load_checkpoint

OPTS = [f'{k}={v}' for k, v in tiny_options().items()]


@pytest.fixture(scope='module')
def official_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('ckpt') / 'vitpose.pth'
    torch.save({'state_dict': from_vitpose_mm(randomize_(build_model(), 1).state_dict(), LAYOUTS['official'])},
               path)
    return path


def test_truncated_file(official_file, tmp_path, capsys):
    data = official_file.read_bytes()
    (tmp_path / 'cut.pth').write_bytes(data[:len(data) // 2])
    code, _, err = run_tool([tmp_path / 'cut.pth', tmp_path / 'out.pth'], capsys)
    assert code == 1 and 'cut.pth' in err
    assert os.listdir(tmp_path) == ['cut.pth']


def test_checkpoint_of_another_model(tmp_path, capsys):
    resnet = {'conv1.weight': torch.zeros(64, 3, 7, 7), 'bn1.weight': torch.zeros(64),
              'layer1.0.conv1.weight': torch.zeros(64, 64, 1, 1), 'fc.weight': torch.zeros(1000, 2048)}
    torch.save({'state_dict': resnet}, tmp_path / 'resnet50.pth')
    code, _, err = run_tool([tmp_path / 'resnet50.pth', tmp_path / 'out.pth'], capsys)
    assert code == 1 and "'backbone.layers.{i}.ln1.weight'" in err and "'conv1.weight'" in err
    assert not (tmp_path / 'out.pth').exists()


def test_larger_vit_into_a_smaller_config(tmp_path, capsys):
    """A "ViT-L" (96-d, 3 blocks) official checkpoint into a "ViT-B" config (64-d, 2 blocks)."""
    big = build_model(options=tiny_options(**{'model.backbone.embed_dim': 96, 'model.backbone.depth': 3,
                                              'model.head.in_channels': 96}))
    torch.save({'state_dict': from_vitpose_mm(big.state_dict(), LAYOUTS['official'])}, tmp_path / 'large.pth')
    code, _, err = run_tool([tmp_path / 'large.pth', tmp_path / 'out.pth', '--config', config_name(),
                             '--cfg-options', *OPTS], capsys)
    assert code == 1 and 'large.pth' in err
    assert 'embed 96, depth 3' in err and 'embed 64, depth 2' in err
    assert any('backbone.pos_embed' in line and '(1, 193, 96)' in line and '(1, 193, 64)' in line
               for line in err.splitlines())
    assert 'backbone.blocks.2.' in err
    assert not (tmp_path / 'out.pth').exists()

    model = randomize_(build_model(), seed=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError, match=r'attn.qkv.weight.*\(288, 96\).*\(192, 64\)'):
        load_checkpoint(model, str(tmp_path / 'large.pth'))
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # untouched


class _RunsCode:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_pickle_that_runs_code(tmp_path, capsys):
    marker = tmp_path / 'pwned'
    torch.save({'state_dict': {'backbone.pos_embed': _RunsCode(marker)}}, tmp_path / 'evil.pth',
               pickle_module=pickle)
    code, _, err = run_tool([tmp_path / 'evil.pth', tmp_path / 'out.pth'], capsys)
    assert code == 1 and 'evil.pth' in err
    assert not marker.exists() and not (tmp_path / 'out.pth').exists()
    model = build_model()
    with pytest.raises(RuntimeError, match='evil.pth'):
        load_checkpoint(model, str(tmp_path / 'evil.pth'))
    assert not marker.exists()


def test_wrong_options(official_file, tmp_path, capsys):
    code, _, err = run_tool([official_file, tmp_path / 'out.pth', '--dataset', 'aic'], capsys)
    assert code == 1 and "'aic'" in err and 'experts' in err
    code, _, err = run_tool([official_file, tmp_path / 'out.pth', '--src-format', 'mmpose'], capsys)
    assert code == 1 and 'mmpose' in err and 'backbone.patch_embed.proj.weight' in err
    code, _, err = run_tool([tmp_path / 'missing.pth', tmp_path / 'out.pth'], capsys)
    assert code == 1 and 'missing.pth' in err
    with pytest.raises(SystemExit) as e:
        run_tool(['--help'], capsys)
    assert e.value.code == 0 and '--src-format' in capsys.readouterr().out
    assert not (tmp_path / 'out.pth').exists()
