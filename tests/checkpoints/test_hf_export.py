"""Writing an HF ``save_pretrained`` folder (``save_hf``), checked against what HF transformers itself wrote for the
committed fixture (tests/fixtures/hf_reference.npz), in every `make test`: HF folder -> vitpose_mm -> HF folder gives
HF's own config values and the same tensors; the folder is written all at once or not at all.

The full round trips through transformers (tests/checkpoints/test_convert_hf.py) need .venv-hf and skip without it.
"""
import json
import os

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file as load_safetensors

from random_weights import formula_state_dict
from test_hf_fixture import FIXTURE, _hf_folder
from vitpose_mm.checkpoints import convert_checkpoint, save_hf
from vitpose_mm.checkpoints import hf as hf_module


@pytest.fixture(scope='module')
def ref():
    return dict(np.load(FIXTURE))


@pytest.mark.parametrize('case, keep_experts', [('classic', False), ('moe', True)])
def test_written_config_has_hfs_own_values(ref, tmp_path, case, keep_experts):
    conv = convert_checkpoint(_hf_folder(ref, case, tmp_path), keep_experts=keep_experts)
    written = save_hf(conv, str(tmp_path / 'out'))
    want = json.loads(str(ref[f'{case}_config']))
    with open(tmp_path / 'out' / 'config.json') as f:
        assert json.load(f) == written
    # every backbone field this package writes has the value transformers wrote for the same model
    for key, value in written['backbone_config'].items():
        assert key in want['backbone_config'], key
        assert value == want['backbone_config'][key], key
    assert set(want['backbone_config']) - set(written['backbone_config']) == {'stage_names'}  # derived by HF
    for key in ('model_type', 'scale_factor', 'use_simple_decoder', 'initializer_range'):
        assert written[key] == want[key], key
    assert written['architectures'] == ['VitPoseForPoseEstimation']  # the class AutoModel builds
    # 17 named keypoints, and label2id the inverse of id2label (HF checks both)
    assert set(written['id2label']) == set(want['id2label'])
    assert written['label2id'] == {v: int(k) for k, v in written['id2label'].items()}
    assert len(set(written['id2label'].values())) == 17


@pytest.mark.parametrize('case, keep_experts', [('classic', False), ('moe', True)])
def test_written_tensors_are_the_hf_tensors(ref, tmp_path, case, keep_experts):
    conv = convert_checkpoint(_hf_folder(ref, case, tmp_path), keep_experts=keep_experts)
    save_hf(conv, str(tmp_path / 'out'))
    path = str(tmp_path / 'out' / 'model.safetensors')
    with safe_open(path, 'pt') as f:
        assert f.metadata() == {'format': 'pt'}  # transformers refuses safetensors files without it
    got = load_safetensors(path)
    want = formula_state_dict(json.loads(str(ref[f'{case}_shapes'])))
    floats = {k: v for k, v in got.items() if v.is_floating_point()}
    assert set(floats) == set(want)
    for key, value in want.items():
        assert torch.equal(floats[key], value), key
    assert set(got) - set(floats) <= set(json.loads(str(ref[f'{case}_int_buffers'])))


def test_folder_is_refused_when_taken_and_accepted_when_empty(ref, tmp_path):
    conv = convert_checkpoint(_hf_folder(ref, 'classic', tmp_path))
    taken = tmp_path / 'taken'
    taken.mkdir()
    (taken / 'x.txt').write_text('keep')
    with pytest.raises(FileExistsError, match='exists and is not an empty folder'):
        save_hf(conv, str(taken))
    assert os.listdir(taken) == ['x.txt']
    (tmp_path / 'a_file').write_text('keep')
    with pytest.raises(FileExistsError, match='exists and is not an empty folder'):
        save_hf(conv, str(tmp_path / 'a_file'))
    (tmp_path / 'empty').mkdir()
    save_hf(conv, str(tmp_path / 'empty'))
    assert sorted(os.listdir(tmp_path / 'empty')) == ['config.json', 'model.safetensors']


def test_failed_write_leaves_nothing(ref, tmp_path, monkeypatch):
    conv = convert_checkpoint(_hf_folder(ref, 'classic', tmp_path))
    out = tmp_path / 'export'
    before = set(os.listdir(tmp_path))

    def broken_dump(*args, **kwargs):
        raise OSError('disk full')
    monkeypatch.setattr(hf_module.json, 'dump', broken_dump)
    with pytest.raises(OSError, match='disk full'):
        save_hf(conv, str(out))
    assert set(os.listdir(tmp_path)) == before  # no folder, no temporary folder left beside it
