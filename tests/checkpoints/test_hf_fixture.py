"""HF transformers' ViTPose outputs, committed as a small fixture, reproduced in every `make test`.

The full HF comparisons (tests/checkpoints/test_convert_hf.py) need the separate .venv-hf and skip without it. This fixture
(tests/fixtures/hf_reference.npz, made once by `tests/hf_reference.py fixture`) holds what HF computed for two tiny
models whose weights and input are a function of the key names (tests/random_weights.formula_tensor), so the main
environment rebuilds the same HF checkpoint without transformers and checks:

- the HF key table (both BatchNorms of the classic decoder, the fused q/k/v, the norms) by the heatmaps;
- the ViTPose+ shared/expert channel order, with all six experts kept and with one dataset folded into ``fc2``.
"""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from conftest import ROOT
from convert_utils import build_model, heatmaps
from random_weights import formula_state_dict, formula_tensor
from vitpose_mm.checkpoints import convert_checkpoint, fit_to_model

FIXTURE = osp.join(ROOT, 'tests', 'fixtures', 'hf_reference.npz')
TOL = 1e-5  # fp32 reordering only; a swapped key or channel block moves the heatmaps by > 1e-2


@pytest.fixture(scope='module')
def ref():
    return dict(np.load(FIXTURE))


def _hf_folder(ref, case: str, root) -> str:
    folder = root / case
    folder.mkdir()
    (folder / 'config.json').write_text(str(ref[f'{case}_config']))
    sd = formula_state_dict(json.loads(str(ref[f'{case}_shapes'])))
    sd.update({k: torch.tensor(0, dtype=torch.long) for k in json.loads(str(ref[f'{case}_int_buffers']))})
    save_file(sd, str(folder / 'model.safetensors'))
    return str(folder)


def _model(conv):
    opts = dict(conv.arch.cfg_options())
    opts.update({'model.backbone.init_cfg': None, 'model.backbone.img_size': (64, 48)})
    model = build_model(conv.arch.decoder == 'simple', opts)
    fit_to_model(conv, model)
    model.load_state_dict(conv.state_dict, strict=True)
    return model


def _input():
    return formula_tensor('input', (2, 3, 64, 48), 'pos')


def test_fixture_is_small_and_meaningful(ref):
    assert osp.getsize(FIXTURE) < 64 * 1024
    for case in ('classic', 'moe'):
        hm = ref[f'{case}_heatmaps']
        assert hm.shape == (2, 17, 16, 12) and np.abs(hm).max() > 0.3


def test_hf_classic_decoder_key_table(ref, tmp_path):
    conv = convert_checkpoint(_hf_folder(ref, 'classic', tmp_path))
    got = heatmaps(_model(conv), _input()).numpy()
    assert np.abs(got - ref['classic_heatmaps']).max() <= TOL


def test_hf_vitpose_plus_all_experts(ref, tmp_path):
    conv = convert_checkpoint(_hf_folder(ref, 'moe', tmp_path), keep_experts=True)
    model = _model(conv)
    index = torch.as_tensor(ref['moe_dataset_index'])
    with torch.no_grad():
        got = model.head(model.backbone(_input(), dataset_source=index)).numpy()
    assert np.abs(got - ref['moe_heatmaps']).max() <= TOL
    # the two samples went through different experts: the routing is visible in the reference itself
    with torch.no_grad():
        swapped = model.head(model.backbone(_input(), dataset_source=index.flip(0))).numpy()
    assert np.abs(swapped - ref['moe_heatmaps']).max() > 1e-2


@pytest.mark.parametrize('sample,dataset', [(0, 'mpii'), (1, 'apt36k')])  # experts 2 and 4
def test_hf_vitpose_plus_one_dataset_folded(ref, tmp_path, sample, dataset):
    conv = convert_checkpoint(_hf_folder(ref, 'moe', tmp_path), dataset=dataset)
    assert conv.arch.part_features == 0  # the expert is folded into fc2: a plain ViT
    got = heatmaps(_model(conv), _input()).numpy()[sample]
    assert np.abs(got - ref['moe_heatmaps'][sample]).max() <= TOL
