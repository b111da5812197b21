"""ONNX export of one dataset of a ViTPose+ (multi-dataset) model: the dataset's expert folded in, its head kept, its
dataset_meta in the metadata; the exported heatmaps equal the multi-dataset model's for that dataset."""
import numpy as np
import torch

from conftest import load_tool
from random_weights import randomize_
from vitpose_mm.deploy import build_onnx_runner, read_metadata
from vitpose_mm.utils import load_config

MICRO = 'td-hm_ViTPose-plus-micro_1xb16-1e_pose-samples-128x96'
AP10K_FLIP = [1, 0, 2, 3, 4, 8, 9, 10, 5, 6, 7, 14, 15, 16, 11, 12, 13]


def test_vitpose_plus_dataset_export_equals_the_multi_dataset_model(tmp_path, capsys):
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    multi = randomize_(MODELS.build(load_config(MICRO).model), seed=7).eval()
    torch.save({'state_dict': multi.state_dict()}, tmp_path / 'plus.pth')
    tool = load_tool('export_onnx')
    out = tmp_path / 'ap10k.onnx'
    assert tool.main([MICRO, str(tmp_path / 'plus.pth'), str(out), '--dataset', 'ap10k']) == 0
    x = torch.randn(3, 3, 128, 96)
    with torch.no_grad():
        want = multi(x, None, mode='tensor')
    got = build_onnx_runner(str(out))(x.numpy())
    assert got.shape == (3, 17, 32, 24)
    assert np.abs(got - want['ap10k'].numpy()).max() <= 1e-4
    assert np.abs(got - want['coco'].numpy()).max() > 1e-2  # another expert and head give other heatmaps
    meta = read_metadata(str(out))
    assert meta['source']['dataset'] == 'ap10k' and meta['dataset_meta']['dataset_name'] == 'ap10k'
    assert meta['dataset_meta']['flip_indices'] == AP10K_FLIP and meta['dataset_meta']['num_keypoints'] == 17
    assert any('folded expert 3 (ap10k)' in note for note in meta['source']['notes'])

    # a multi-dataset config needs a dataset it has a head for; nothing is written otherwise
    capsys.readouterr()
    for extra, message in (([], 'needs --dataset'), (['--dataset', 'ochuman'], "no head for dataset 'ochuman'")):
        assert tool.main([MICRO, str(tmp_path / 'plus.pth'), str(tmp_path / 'x.onnx')] + extra) == 1
        err = capsys.readouterr().err
        assert message in err and "'coco', 'aic', 'mpii', 'ap10k', 'crowdpose', 'coco_wholebody'" in err
    assert not (tmp_path / 'x.onnx').exists()
