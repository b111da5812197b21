"""ViTPose+ checkpoints: the official release loads strictly into the six-dataset configs; any one dataset of a
multi-dataset checkpoint exports to a plain ViTPose with the same outputs and that dataset's dataset_meta."""
import os
import os.path as osp

import pytest
import torch

from conftest import ROOT
from multi_dataset_utils import NAMES, SIX, TINY, build, multi_model, official_state_dict, plain_model
from random_weights import randomize_
from vitpose_mm.checkpoints import load_file
from vitpose_mm.checkpoints import multi_dataset
from vitpose_mm.checkpoints.multi_dataset import export_dataset, load_official_vitpose_plus, official_to_multi_dataset

def test_official_vitpose_plus_loads_strictly_into_the_six_dataset_config(tmp_path):
    ref = randomize_(build(SIX, TINY), seed=5)
    official = official_state_dict(ref)
    assert official['associate_keypoint_heads.4.final_layer.weight'].shape[0] == 133  # wholebody
    assert official['backbone.blocks.1.mlp.experts.5.weight'].shape == (16, 256)
    torch.save({'state_dict': official}, tmp_path / 'vitpose+_base.pth')
    model = build(SIX, TINY)
    dropped = load_official_vitpose_plus(model, str(tmp_path / 'vitpose+_base.pth'))
    assert list(dropped) == ['backbone.cls_token']
    for k, v in ref.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    # a plain (expert-less) ViTPose checkpoint is not a ViTPose+ one
    plain = {k: v for k, v in official.items() if 'experts' not in k and 'associate' not in k}
    with pytest.raises(ValueError, match='not a ViTPose\\+ checkpoint'):
        official_to_multi_dataset(plain)
    # experts but only the COCO head (keypoint_head): not a ViTPose+ release either
    with pytest.raises(ValueError, match='not a ViTPose\\+ checkpoint'):
        official_to_multi_dataset({k: v for k, v in official.items() if 'associate' not in k})
    # a missing head is named by the strict load
    del official['associate_keypoint_heads.2.final_layer.bias']
    torch.save({'state_dict': official}, tmp_path / 'broken.pth')
    with pytest.raises(RuntimeError, match='heads.ap10k.final_layer.bias'):
        load_official_vitpose_plus(build(SIX, TINY), str(tmp_path / 'broken.pth'))


def tiny_config(path, base: str, model: str) -> str:
    """A config file of tiny dims over a shipped config (written as text: dumping runs yapf, slow for big configs)."""
    path.write_text(f"_base_ = ['{base}']\nmodel = {model}\n")
    return str(path)


@pytest.mark.parametrize('dataset, skeleton_link', [('ap10k', ('Neck', 'Root of tail'))])
@pytest.mark.slow  # the tool on a ViTPose+ model, about 4 s of CPU per case
def test_tool_exports_one_dataset_with_its_dataset_meta(tmp_path, capsys, dataset, skeleton_link):
    import sys
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    import export_dataset as tool
    ref = randomize_(build(SIX, TINY), seed=6)
    torch.save({'state_dict': official_state_dict(ref)}, tmp_path / 'official.pth')
    k = 17
    tiny_bb = "dict(embed_dim=64, depth=2, num_heads=4, init_cfg=None{})"
    six = tiny_config(tmp_path / 'six.py', SIX, "dict(backbone=" + tiny_bb.format(', part_features=16') +
                      f", heads={{n: dict(in_channels=64) for n in {NAMES}}})")
    plain = tiny_config(tmp_path / 'plain.py',
                        osp.join(ROOT, 'configs', dataset, f'td-hm_ViTPose-base_8xb64-210e_{dataset}-256x192.py'),
                        "dict(backbone=" + tiny_bb.format('') + ", head=dict(in_channels=64))")
    code = tool.main([six, str(tmp_path / 'official.pth'), str(tmp_path / 'out.pth'), '--dataset', dataset,
                      '--official', '--plain-config', plain])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f'folded expert {NAMES.index(dataset)} ({dataset})' in out
    ckpt = load_file(str(tmp_path / 'out.pth'))
    meta = ckpt['meta']['dataset_meta']
    assert meta['dataset_name'] == dataset and meta['num_keypoints'] == k
    names = [(meta['keypoint_id2name'][a], meta['keypoint_id2name'][b]) for a, b in meta['skeleton_links']]
    assert skeleton_link in names or skeleton_link[::-1] in names
    model = build(plain, {})
    model.load_state_dict(ckpt['state_dict'], strict=True)
    x = torch.randn(2, 3, 256, 192)
    with torch.no_grad():
        want = ref(x, None, mode='tensor')[dataset]
        got = model(x, None, mode='tensor')
    assert (got - want).abs().max().item() <= 1e-5
    # a dataset the model has no head for
    code = tool.main([six, str(tmp_path / 'official.pth'), str(tmp_path / 'x.pth'), '--dataset', 'crowdpose',
                      '--official'])
    err = capsys.readouterr().err
    assert code == 1 and "'crowdpose'" in err
    # one dataset, two names: ViTPose+'s short name and mmpose's dataset_name pick the same expert and head
    from vitpose_mm.checkpoints import convert_checkpoint
    from vitpose_mm.checkpoints.multi_dataset import export_dataset
    short, long = export_dataset(ref, 'wholebody')[0], export_dataset(ref, 'coco_wholebody')[0]
    assert set(short) == set(long) and all(torch.equal(short[k], long[k]) for k in short)
    short = convert_checkpoint(str(tmp_path / 'official.pth'), dataset='wholebody').state_dict
    long = convert_checkpoint(str(tmp_path / 'official.pth'), dataset='coco_wholebody').state_dict
    assert set(short) == set(long) and all(torch.equal(short[k], long[k]) for k in short)
    assert err.startswith('error: dataset') and not err.rstrip().endswith("'")  # the message, not a quoted KeyError
    assert not (tmp_path / 'x.pth').exists()


def test_export_folds_one_expert_into_fc2_whatever_the_key_order():
    """Every block's fc2 becomes [shared rows; the dataset's expert rows] (weight and bias, as tools/model_split.py
    does), the note counts the blocks, and the result does not depend on the order state_dict() lists its keys."""
    model = multi_model(('coco', 'aic', 'mpii'))
    own = model.state_dict()
    sd, _, notes = export_dataset(model, 'mpii', dataset_meta={})
    for i in range(2):
        for p in ('weight', 'bias'):
            mlp = f'backbone.blocks.{i}.mlp.'
            assert torch.equal(sd[mlp + 'fc2.' + p], torch.cat([own[mlp + 'fc2.' + p], own[mlp + 'experts.2.' + p]]))
    assert notes == ["folded expert 2 (mpii) into every block's mlp.fc2 (2 blocks)",
                     'kept the head of mpii; dropped 2 other heads']
    model.state_dict = lambda *args, **kwargs: dict(reversed(list(own.items())))  # the experts before fc2
    reordered = export_dataset(model, 'mpii', dataset_meta={})[0]
    assert set(reordered) == set(sd) and all(torch.equal(reordered[k], v) for k, v in sd.items())


def test_export_of_a_model_without_experts_and_of_a_plain_model():
    """A multi-dataset model with a plain ViT (no experts) exports its backbone as is, with no folding note; a
    single-dataset model has no heads to choose from and says so (KeyError, not an AttributeError)."""
    model = multi_model(('coco', 'aic', 'mpii'), num_expert=1, part_features=0)
    sd, _, notes = export_dataset(model, 'aic', dataset_meta={})
    assert len(notes) == 1 and 'aic' in notes[0] and '2 other heads' in notes[0]
    plain = plain_model(14)
    plain.load_state_dict(sd, strict=True)
    backbone = {k: v for k, v in model.state_dict().items() if k.startswith('backbone.')}
    assert all(torch.equal(plain.state_dict()[k], v) for k, v in backbone.items())
    with pytest.raises(KeyError, match="'coco'.*none"):
        export_dataset(plain_model(17), 'coco')


def test_save_exported_writes_a_hidden_partial_file_beside_the_target(tmp_path, monkeypatch):
    """The checkpoint is written to a hidden temporary file in the target's folder (the final os.replace is then
    an atomic rename on one filesystem, and a glob of *.pth never sees a partial file), then renamed."""
    written = []
    save = torch.save

    def recording_save(obj, f):
        written.append(str(f))
        save(obj, f)
    monkeypatch.setattr(multi_dataset.torch, 'save', recording_save)
    target = tmp_path / 'exports' / 'ap10k.pth'
    multi_dataset.save_exported(str(target), {'w': torch.ones(2)}, {'dataset_name': 'ap10k'}, {'dataset': 'ap10k'})
    assert len(written) == 1 and osp.dirname(written[0]) == str(target.parent)
    assert osp.basename(written[0]).startswith('.ap10k.pth.')
    assert os.listdir(target.parent) == ['ap10k.pth']
    assert load_file(str(target))['meta']['vitpose_mm'] == {'dataset': 'ap10k'}
