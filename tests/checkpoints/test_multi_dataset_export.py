"""ViTPose+ checkpoints: the official release loads strictly into the six-dataset configs; any one dataset of a
multi-dataset checkpoint exports to a plain ViTPose with the same outputs and that dataset's dataset_meta."""
import os.path as osp

import pytest
import torch

from conftest import ROOT
from multi_dataset_utils import NAMES, SIX, TINY, build, official_state_dict
from random_weights import randomize_
from vitpose_mm.checkpoints import load_file
from vitpose_mm.checkpoints.multi_dataset import load_official_vitpose_plus, official_to_multi_dataset

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
    assert code == 1 and "dataset 'crowdpose' has no head" in err
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
