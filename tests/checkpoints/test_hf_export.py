"""Writing an HF ``save_pretrained`` folder (``save_hf``), checked against what HF transformers itself wrote for the
committed fixture (tests/fixtures/hf_reference.npz), in every `make test`: HF folder -> vitpose_mm -> HF folder gives
HF's own config values and the same tensors; the folder is written all at once or not at all.

The full round trips through transformers (tests/checkpoints/test_convert_hf.py) need .venv-hf and skip without it.
"""
import json
import os
import re

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
        # the JSON text too: a whole mlp_ratio is written 4, as transformers writes it, not 4.0
        assert json.dumps(value) == json.dumps(want['backbone_config'][key]), key
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
    with pytest.raises(FileExistsError, match=re.escape(str(taken))):
        save_hf(conv, str(taken))
    assert os.listdir(taken) == ['x.txt']
    (tmp_path / 'a_file').write_text('keep')
    with pytest.raises(FileExistsError, match=re.escape(str(tmp_path / 'a_file'))):
        save_hf(conv, str(tmp_path / 'a_file'))
    (tmp_path / 'empty').mkdir()
    save_hf(conv, str(tmp_path / 'empty'))
    assert sorted(os.listdir(tmp_path / 'empty')) == ['config.json', 'model.safetensors', 'preprocessor_config.json']


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


def _simple_model():
    from convert_utils import build_model, tiny_options
    from random_weights import randomize_
    return randomize_(build_model(True, tiny_options(True)), seed=11)


def test_simple_decoder_round_trip_through_an_hf_folder(tmp_path):
    """A simple-decoder model written as HF and read back: the simple decoder, its x4 upsampling and every tensor."""
    from vitpose_mm.checkpoints import fit_to_model
    from vitpose_mm.checkpoints.convert import Source
    model = _simple_model()
    conv = convert_checkpoint(Source(model.state_dict(), 'tiny'))
    fit_to_model(conv, model)  # the heads and the upsampling, which the weights do not say
    config = save_hf(conv, str(tmp_path / 'hf'))
    assert config['use_simple_decoder'] is True and config['scale_factor'] == 4
    back = convert_checkpoint(str(tmp_path / 'hf'))
    assert back.arch.decoder == 'simple' and back.arch.upsample == 4
    want = model.state_dict()
    for key, value in back.state_dict.items():
        assert torch.equal(value, want[key]), key


def _rewrite_config(folder, **changes):
    path = folder / 'config.json'
    cfg = json.loads(path.read_text())
    for key, value in changes.items():
        if key.startswith('bb_'):
            cfg['backbone_config'][key[3:]] = value
        else:
            cfg[key] = value
    path.write_text(json.dumps(cfg))


def test_sharded_safetensors_and_out_features_only(ref, tmp_path):
    """An index.json with two shards joins to the same tensors; a config with out_features but no out_indices reads
    the last block as out_indices would."""
    from safetensors.torch import save_file
    folder = tmp_path / 'hf'
    save_hf(convert_checkpoint(_hf_folder(ref, 'classic', tmp_path)), str(folder))
    whole = load_safetensors(str(folder / 'model.safetensors'))
    keys = sorted(whole)
    shards = {'model-00001-of-00002.safetensors': keys[::2], 'model-00002-of-00002.safetensors': keys[1::2]}
    for name, part in shards.items():
        save_file({k: whole[k] for k in part}, str(folder / name), metadata={'format': 'pt'})
    (folder / 'model.safetensors').unlink()
    (folder / 'model.safetensors.index.json').write_text(json.dumps(
        {'metadata': {}, 'weight_map': {k: name for name, part in shards.items() for k in part}}))
    _rewrite_config(folder, bb_out_indices=None, bb_out_features=['stage2'])
    sharded = convert_checkpoint(str(folder))
    (tmp_path / 'again').mkdir()
    direct = convert_checkpoint(_hf_folder(ref, 'classic', tmp_path / 'again'))
    assert set(sharded.state_dict) == set(direct.state_dict)
    assert all(torch.equal(sharded.state_dict[k], v) for k, v in direct.state_dict.items())
    _rewrite_config(folder, bb_out_features=['stage1'])
    with pytest.raises(ValueError, match=r'block 1.*\(2\)'):
        convert_checkpoint(str(folder))


@pytest.mark.parametrize('changes, match', [
    (dict(model_type='vit'), r"model_type.*'vit'"),
    (dict(bb_model_type='dinov2'), 'backbone_config'),
    (dict(bb_hidden_act='gelu_new'), r"hidden_act='gelu_new'"),
    # HF's stage names: 'stem' is the patch embedding (block 0), 'stage{i}' block i
    (dict(bb_out_indices=None, bb_out_features=['stem']), r'block 0.*\(2\)'),
])
def test_hf_configs_vitpose_mm_cannot_reproduce_are_refused(ref, tmp_path, changes, match):
    folder = tmp_path / 'hf'
    save_hf(convert_checkpoint(_hf_folder(ref, 'classic', tmp_path)), str(folder))
    _rewrite_config(folder, **changes)
    with pytest.raises(ValueError, match=match):
        convert_checkpoint(str(folder))


def test_hf_folder_without_weights_names_the_files(ref, tmp_path):
    folder = tmp_path / 'hf'
    save_hf(convert_checkpoint(_hf_folder(ref, 'classic', tmp_path)), str(folder))
    (folder / 'model.safetensors').unlink()
    with pytest.raises(FileNotFoundError, match=r"\['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin'\]"):
        convert_checkpoint(str(folder))


def _geometry_folder(ref, root, image, patch, mlp_ratio=4, scale_factor=2, **backbone) -> dict:
    """An HF folder of the fixture's tiny ViT with another input, patch, MLP width and a simple decoder; returns
    its config. Tensors follow the fixture's formula, so any two folders of the same shapes hold the same values."""
    from safetensors.torch import save_file
    cfg = json.loads(str(ref['classic_config']))
    cfg['backbone_config'].update(image_size=image, patch_size=patch, mlp_ratio=mlp_ratio, **backbone)
    cfg.update(use_simple_decoder=True, scale_factor=scale_factor)
    shapes = {k: v for k, v in json.loads(str(ref['classic_shapes'])).items() if not k.startswith('head.')}
    hidden = int(64 * mlp_ratio)
    shapes.update({'backbone.embeddings.position_embeddings': [1, 1 + (image[0] // patch[0]) * (image[1] // patch[1]),
                                                               64],
                   'backbone.embeddings.patch_embeddings.projection.weight': [64, 3, *patch],
                   'head.conv.weight': [17, 64, 3, 3], 'head.conv.bias': [17]})
    for i in range(2):
        shapes.update({f'backbone.encoder.layer.{i}.mlp.fc1.weight': [hidden, 64],
                       f'backbone.encoder.layer.{i}.mlp.fc1.bias': [hidden],
                       f'backbone.encoder.layer.{i}.mlp.fc2.weight': [64, hidden]})
    root.mkdir()
    (root / 'config.json').write_text(json.dumps(cfg))
    save_file(formula_state_dict(shapes), str(root / 'model.safetensors'))
    return cfg


@pytest.mark.parametrize('mlp_ratio', [4, 2.5])
def test_hf_folder_of_another_geometry_round_trips(ref, tmp_path, mlp_ratio):
    """The grid comes from the config (image_size // patch_size per side: a 2x8 grid of 16x8 patches, which the 16
    position rows alone do not tell), the upsampling from scale_factor, out_indices [-1] is the last block; written
    back, the config has the same values in the same JSON types and the tensors are unchanged."""
    src = _geometry_folder(ref, tmp_path / 'hf', image=[32, 64], patch=[16, 8], mlp_ratio=mlp_ratio,
                           out_indices=[-1])
    conv = convert_checkpoint(str(tmp_path / 'hf'))
    assert conv.arch.grid == (2, 8) and conv.arch.patch_size == (16, 8) and conv.arch.img_size == (32, 64)
    assert conv.arch.upsample == 2 and conv.arch.decoder == 'simple' and conv.arch.mlp_ratio == mlp_ratio
    written = save_hf(conv, str(tmp_path / 'out'))
    with open(tmp_path / 'out' / 'config.json') as f:
        text = json.load(f)
    for key in ('image_size', 'patch_size', 'mlp_ratio'):
        assert json.dumps(text['backbone_config'][key]) == json.dumps(src['backbone_config'][key]), key
    assert (text['scale_factor'], text['use_simple_decoder']) == (2, True) and written == text
    got, want = (load_safetensors(str(p / 'model.safetensors')) for p in (tmp_path / 'out', tmp_path / 'hf'))
    assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)


def test_integer_patch_size_reads_as_a_square_patch(ref, tmp_path):
    """`patch_size: 16` (one number, as other HF ViT configs write it) means 16x16: the same model as [16, 16]."""
    folder = tmp_path / 'hf'
    save_hf(convert_checkpoint(_hf_folder(ref, 'classic', tmp_path)), str(folder))
    _rewrite_config(folder, bb_patch_size=16)
    conv = convert_checkpoint(str(folder))
    assert conv.arch.patch_size == (16, 16) and conv.arch.grid == (4, 3) and conv.arch.img_size == (64, 48)


@pytest.mark.parametrize('change', [dict(final_kernel=1), dict(deconv_filters=(16, ), deconv_kernels=(4, ))])
def test_simple_heads_hf_cannot_express_are_refused(ref, tmp_path, change):
    """HF's simple decoder is ReLU, upsampling and a 3x3 conv, nothing else: another final kernel, or a deconv
    layer before it, has no HF config and is refused before anything is written."""
    import dataclasses
    _geometry_folder(ref, tmp_path / 'hf', image=[64, 48], patch=[16, 16])
    conv = convert_checkpoint(str(tmp_path / 'hf'))
    assert conv.arch.decoder == 'simple' and conv.arch.final_kernel == 3
    with pytest.raises(ValueError, match=r'simple decoder.*\[16\]' if 'deconv_filters' in change else 'simple decoder.*1x1'):
        hf_module.hf_config_for(dataclasses.replace(conv.arch, **change))
