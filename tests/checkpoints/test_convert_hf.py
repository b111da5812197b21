"""HF transformers VitPoseForPoseEstimation <-> vitpose_mm: same heatmaps and keypoints, both ways.

transformers cannot be installed beside mmpretrain 1.2.0, so the HF side runs in .venv-hf (tools/setup_hf_env.sh,
made by `make test`) through tests/hf_reference.py, in two subprocesses: one makes random-weight HF models and their
heatmaps, the other runs the folders vitpose_mm writes and decodes heatmaps with HF's own post-processing.
"""
import json
import os
import os.path as osp
import subprocess

import numpy as np
import pytest
import torch
from safetensors.torch import load_file as load_safetensors

from convert_utils import ROOT, assert_same_decoding, build_model, heatmaps, keypoint_diff, tiny_options
from random_weights import randomize_
from vitpose_mm.checkpoints import convert_checkpoint, fit_to_model, save_hf

HF_PYTHON = osp.join(ROOT, '.venv-hf', 'bin', 'python')
HF_READY = osp.join(ROOT, '.venv-hf', '.setup-done')  # written by tools/setup_hf_env.sh once transformers works
HF_SCRIPT = osp.join(ROOT, 'tests', 'hf_reference.py')
pytestmark = [pytest.mark.slow, pytest.mark.skipif(  # slow: the HF side runs in subprocesses
    not osp.isfile(HF_READY), reason=f'{HF_READY} not found: the HF environment is made by `make test` '
    '(tools/setup_hf_env.sh); without it the HF comparisons cannot run')]
# case folder made by hf_reference.py -> the dataset to keep (ViTPose+ with 6 experts: mpii = expert 2)
CASES = {'classic': None, 'simple': None, 'moe': 'mpii', 'hub_eps': None}


def _hf(*args) -> None:
    proc = subprocess.run([HF_PYTHON, HF_SCRIPT, *map(str, args)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_NO_ADVISORY_WARNINGS': '1'})
    if proc.returncode:
        raise RuntimeError(f'{HF_SCRIPT} {args[0]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')


def _model_for(conv):
    """A vitpose_mm model of the converted architecture, from a shipped config plus the printed cfg-options."""
    opts = dict(conv.arch.cfg_options())
    opts['model.backbone.init_cfg'] = None
    return build_model(conv.arch.decoder == 'simple', opts)


@pytest.fixture(scope='module')
def hf(tmp_path_factory):
    out = tmp_path_factory.mktemp('hf')
    _hf('make', out)
    jobs, res = {'heatmaps': [], 'decode': []}, {}
    for case, dataset in CASES.items():
        conv = convert_checkpoint(str(out / case), dataset=dataset)
        model = _model_for(conv)
        fit_to_model(conv, model)
        model.load_state_dict(conv.state_dict, strict=True)
        ref = np.load(out / case / 'reference.npz')
        ours = heatmaps(model, torch.from_numpy(ref['input'])).numpy()
        np.savez(out / f'{case}_ours.npz', heatmaps=ours)
        np.savez(out / f'{case}_plain_input.npz', input=ref['input'], dataset_index=-1)
        save_hf(conv, str(out / f'{case}_export'))  # single-dataset model: a plain HF model
        jobs['heatmaps'].append([str(out / f'{case}_export'), str(out / f'{case}_plain_input.npz'),
                                 str(out / f'{case}_export_heatmaps.npz')])
        jobs['decode'] += [[str(out / case / 'reference.npz'), str(out / f'{case}_hf_decoded_ref.npz')],
                           [str(out / f'{case}_ours.npz'), str(out / f'{case}_hf_decoded_ours.npz')]]
        res[case] = dict(conv=conv, ref=ref, ours=ours)
    # the ViTPose+ model with all its experts, back to HF: run with the reference's dataset index
    moe = convert_checkpoint(str(out / 'moe'), keep_experts=True)
    save_hf(moe, str(out / 'moe_all_export'))
    jobs['heatmaps'].append([str(out / 'moe_all_export'), str(out / 'moe' / 'reference.npz'),
                             str(out / 'moe_all_export_heatmaps.npz')])
    # a model made here, published to HF
    here = randomize_(build_model(simple=False), seed=11)
    torch.save({'state_dict': here.state_dict()}, out / 'here.pth')
    save_hf(fit_to_model(convert_checkpoint(str(out / 'here.pth')), here), str(out / 'here_export'))
    x = torch.from_numpy(res['classic']['ref']['input'])
    res['here'] = heatmaps(here, x).numpy()
    jobs['heatmaps'].append([str(out / 'here_export'), str(out / 'classic_plain_input.npz'),
                             str(out / 'here_export_heatmaps.npz')])
    (out / 'jobs.json').write_text(json.dumps(jobs))
    _hf('run', out / 'jobs.json')
    return out, res


@pytest.mark.parametrize('case', ['classic', 'simple', 'moe'])
def test_hf_heatmaps_are_reproduced(hf, case):
    _, res = hf
    want, got = res[case]['ref']['heatmaps'], res[case]['ours']
    assert want.shape == (4, 17, 64, 48) and np.abs(want).max() > 0.3
    assert np.abs(want - got).max() <= 1e-5


def test_hf_moe_keeps_one_dataset(hf):
    conv = hf[1]['moe']['conv']
    assert conv.arch.part_features == 0 and conv.dataset == 'mpii'
    assert 'backbone.encoder.layer.1.mlp.experts.2.weight' in conv.dropped  # folded into fc2
    assert 'folded into' in conv.dropped['backbone.encoder.layer.1.mlp.experts.2.weight']
    reason = conv.dropped['backbone.encoder.layer.0.mlp.experts.0.bias']
    assert 'expert 0 (coco)' in reason and 'mpii' in reason
    assert sum('experts' in k for k in conv.dropped) == 2 * 2 * 6  # every expert of both blocks is named


def test_hub_layer_norm_eps_is_reported(hf):
    """Hub models carry transformers' default eps 1e-12; ViTPose's is 1e-6: a note, and a tiny difference."""
    res = hf[1]['hub_eps']
    assert any('layer_norm_eps=1e-12' in n for n in res['conv'].notes)
    assert np.abs(res['ref']['heatmaps'] - res['ours']).max() <= 1e-5


@pytest.mark.parametrize('case', ['classic', 'simple', 'moe'])
def test_hf_decoded_keypoints_are_reproduced(hf, case):
    out, res = hf
    assert_same_decoding(res[case]['ref']['heatmaps'], res[case]['ours'])  # mmpose's UDP codec
    want, got = np.load(out / f'{case}_hf_decoded_ref.npz'), np.load(out / f'{case}_hf_decoded_ours.npz')
    assert np.abs(want['scores'] - got['scores']).max() <= 1e-5  # HF's own post-processing
    m = keypoint_diff(want['keypoints'], got['keypoints'], res[case]['ref']['heatmaps'])
    assert m['conditioned'] >= max(4, m['total'] // 8) and m['keypoint_diff_px'] / 256 <= 1e-5, m


@pytest.mark.parametrize('case', ['classic', 'simple', 'moe', 'here'])
def test_exported_folder_runs_in_transformers(hf, case):
    out, res = hf
    got = np.load(out / f'{case}_export_heatmaps.npz')['heatmaps']
    want = res[case] if case == 'here' else res[case]['ours']
    assert np.abs(want - got).max() <= 1e-5


def test_hf_moe_round_trip_is_exact(hf):
    out, res = hf
    a, b = load_safetensors(str(out / 'moe' / 'model.safetensors')), \
        load_safetensors(str(out / 'moe_all_export' / 'model.safetensors'))
    assert sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)
    cfg_a, cfg_b = (json.loads((out / f / 'config.json').read_text()) for f in ('moe', 'moe_all_export'))
    for key in ('hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_experts', 'part_features',
                'layer_norm_eps', 'image_size', 'patch_size', 'qkv_bias'):
        assert cfg_a['backbone_config'][key] == cfg_b['backbone_config'][key], key
    got = np.load(out / 'moe_all_export_heatmaps.npz')['heatmaps']
    assert np.array_equal(got, res['moe']['ref']['heatmaps'])


def test_tiny_options_match_the_hf_cases(hf):
    """The printed cfg-options recipe builds the same model as the test's own tiny dims."""
    opts = hf[1]['classic']['conv'].arch.cfg_options()
    for k, v in tiny_options().items():
        if k in opts:
            assert opts[k] == v, k
