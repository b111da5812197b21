"""A checkpoint of another dataset's keypoints than the config's (an AP-10K model in a COCO config: the same 17
channels, other keypoints and flip pairs) is refused or warned about at loading; HF ViTPose+ folders, which keep only
the COCO head, convert for another dataset as "the COCO head behind that expert", labelled in the log and the meta."""
import dataclasses

import pytest
import torch
from mmpose.datasets.datasets.utils import parse_pose_metainfo

from multi_dataset_utils import SIX, TINY, build, official_state_dict, plain_model
from random_weights import randomize_
from vitpose_mm.checkpoints import CheckpointMismatchError, convert_checkpoint, load_checkpoint, load_file, save_hf
from vitpose_mm.checkpoints.convert_file import convert_file
from vitpose_mm.checkpoints.loading import check_dataset
from vitpose_mm.checkpoints.multi_dataset import save_exported
from vitpose_mm.datasets import metainfo_file


def meta_of(name: str) -> dict:
    return parse_pose_metainfo(dict(from_file=metainfo_file(name)))


@pytest.fixture
def ap10k_checkpoint(tmp_path):
    """A plain 17-keypoint model's weights recorded as an AP-10K model (as tools/export_dataset.py writes them)."""
    path = str(tmp_path / 'ap10k.pth')
    save_exported(path, randomize_(plain_model(17), seed=2).state_dict(), meta_of('ap10k'), dict(dataset='ap10k'))
    return path


def test_another_datasets_checkpoint_is_refused_and_nothing_is_loaded(ap10k_checkpoint):
    model = plain_model(17)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint(model, ap10k_checkpoint, dataset_meta=meta_of('coco'))
    text = str(err.value)
    for words in ("'ap10k'", 'L_Eye, R_Eye, Nose, Neck', "'coco'", 'nose, left_eye, right_eye, left_ear',
                  'configs/ap10k/', 'load_from', "dataset_check='warn'"):
        assert words in text, text
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_warn_loads_and_names_both_datasets(ap10k_checkpoint, mmlogger_warnings):
    model = plain_model(17)
    loaded = load_checkpoint(model, ap10k_checkpoint, dataset_meta=meta_of('coco'), dataset_check='warn')
    assert loaded.dataset_meta['dataset_name'] == 'ap10k'
    want = load_file(ap10k_checkpoint)['state_dict']
    assert all(torch.equal(v, want[k]) for k, v in model.state_dict().items())
    warnings = mmlogger_warnings
    assert len(warnings) == 1 and "'ap10k'" in warnings[0] and "'coco'" in warnings[0]


def test_other_keypoint_count_names_both_datasets_before_the_shapes(tmp_path, mmlogger_warnings):
    """An AIC model (14 keypoints) in a COCO config: the datasets and the config to use, not "set out_channels=14";
    with dataset_check='warn' (fine-tuning) one warning, then the shapes still refuse a strict load."""
    path = str(tmp_path / 'aic.pth')
    save_exported(path, randomize_(plain_model(14), seed=2).state_dict(), meta_of('aic'), dict(dataset='aic'))
    model = plain_model(17)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        load_checkpoint(model, path, dataset_meta=meta_of('coco'))
    text = str(err.value)
    assert "'aic'" in text and '14 keypoints' in text and 'configs/aic/' in text, text
    assert 'out_channels' not in text
    with pytest.raises(CheckpointMismatchError, match='out_channels=14'):
        load_checkpoint(model, path, dataset_meta=meta_of('coco'), dataset_check='warn')
    assert len(mmlogger_warnings) == 1 and "'aic'" in mmlogger_warnings[0]
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize('recorded, config', [('ap10k', 'ap10k'), ('ap10k', 'apt36k'), ('coco', 'ochuman')])
def test_datasets_of_one_keypoint_definition_pass(tmp_path, mmlogger_warnings, recorded, config):
    path = str(tmp_path / 'x.pth')
    save_exported(path, plain_model(17).state_dict(), meta_of(recorded), {})
    load_checkpoint(plain_model(17), path, dataset_meta=meta_of(config))
    assert mmlogger_warnings == []


def test_same_keypoint_names_with_other_flip_pairs_are_refused(tmp_path):
    path = str(tmp_path / 'x.pth')
    meta = meta_of('coco')
    save_exported(path, plain_model(17).state_dict(), dict(meta, flip_indices=list(range(17))), {})
    with pytest.raises(CheckpointMismatchError, match='flip'):
        load_checkpoint(plain_model(17), path, dataset_meta=meta)


def test_nothing_to_check_without_a_recorded_dataset(tmp_path):
    path = str(tmp_path / 'x.pth')
    torch.save({'state_dict': plain_model(17).state_dict(), 'meta': {}}, path)
    assert load_checkpoint(plain_model(17), path, dataset_meta=meta_of('ap10k')).dataset_meta is None


def test_unknown_dataset_check_is_refused(ap10k_checkpoint):
    with pytest.raises(ValueError, match=r"dataset_check='off'.*\['error', 'warn'\]"):
        load_checkpoint(plain_model(17), ap10k_checkpoint, dataset_check='off')


def test_hf_vitpose_plus_for_another_dataset_is_the_coco_head_behind_its_expert(tmp_path):
    """HF ViTPose+ folders keep only the COCO head: converted for AP-10K, the result predicts COCO keypoints with the
    AP-10K expert folded in; the log, the meta and its dataset_meta say so, and an AP-10K config refuses it."""
    torch.save({'state_dict': official_state_dict(randomize_(build(SIX, TINY), seed=5))}, tmp_path / 'plus.pth')
    moe = convert_checkpoint(str(tmp_path / 'plus.pth'), keep_experts=True)
    moe.arch = dataclasses.replace(moe.arch, num_heads=4)
    save_hf(moe, str(tmp_path / 'hf'))
    lines = []
    convert_file(str(tmp_path / 'hf'), str(tmp_path / 'ap10k.pth'), dataset='ap10k', log=lines.append)
    assert any(line.startswith('note:') and 'COCO head' in line and 'ap10k' in line for line in lines), lines
    meta = load_file(str(tmp_path / 'ap10k.pth'))['meta']
    assert meta['vitpose_mm']['dataset'] == 'ap10k' and meta['vitpose_mm']['head'] == 'coco'
    assert meta['dataset_meta']['dataset_name'] == 'coco' and meta['dataset_meta']['keypoint_id2name'][0] == 'nose'
    assert any(n.startswith('the COCO head behind the ap10k expert') for n in meta['vitpose_mm']['notes'])
    model = build(SIX.replace('vitpose_plus/td-hm_ViTPose-plus-base_8xb128-210e_6datasets',
                              'ap10k/td-hm_ViTPose-base_8xb64-210e_ap10k'),
                  {'model.backbone.embed_dim': 64, 'model.backbone.depth': 2, 'model.backbone.num_heads': 4,
                   'model.backbone.init_cfg': None, 'model.head.in_channels': 64})
    with pytest.raises(CheckpointMismatchError, match="'coco'.*'ap10k'"):
        load_checkpoint(model, str(tmp_path / 'ap10k.pth'), dataset_meta=meta_of('ap10k'))
    # the same folder for COCO: its own head, no label
    lines.clear()
    convert_file(str(tmp_path / 'hf'), str(tmp_path / 'coco.pth'), dataset='coco', log=lines.append)
    assert not any('COCO head behind' in line for line in lines)
    assert load_file(str(tmp_path / 'coco.pth'))['meta']['vitpose_mm']['head'] == 'coco'


def test_keypoint_ids_stored_as_strings_are_read_in_numeric_order():
    """A ``dataset_meta`` that went through JSON has string ids ('10' sorts before '2' as text): the channel order
    is the ids' numeric order, so such a record of COCO matches COCO and is not refused."""
    coco = meta_of('coco')
    as_json = dict(coco, keypoint_id2name={str(i): name for i, name in coco['keypoint_id2name'].items()})
    check_dataset(as_json, coco)
    # the same record with two channels swapped is still told apart
    swapped = dict(as_json, keypoint_id2name={**as_json['keypoint_id2name'], '2': 'left_eye', '10': 'right_eye'})
    with pytest.raises(CheckpointMismatchError):
        check_dataset(swapped, coco)


def test_a_dataset_outside_the_package_is_named_without_a_config_folder():
    """A checkpoint of the user's own dataset (not in vitpose_mm.datasets.facts): refused with its name, and no
    ``configs/...`` folder is suggested (none exists)."""
    own = dict(meta_of('coco'), dataset_name='my_people')
    own['keypoint_id2name'] = {i: f'point{i}' for i in own['keypoint_id2name']}
    with pytest.raises(CheckpointMismatchError) as err:
        check_dataset(own, meta_of('coco'), source='mine.pth')
    text = str(err.value)
    assert 'mine.pth' in text and "'my_people'" in text and 'configs/' not in text, text
