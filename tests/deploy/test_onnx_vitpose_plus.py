"""ONNX export of one dataset of a ViTPose+ (multi-dataset) model: the dataset's expert folded in, its head kept, its
dataset_meta in the metadata; the exported heatmaps equal the multi-dataset model's for that dataset."""
import numpy as np
import pytest
import torch

from conftest import load_tool
from random_weights import randomize_
from vitpose_mm.deploy import build_onnx_runner, read_metadata
from vitpose_mm.utils import load_config

MICRO = 'td-hm_ViTPose-plus-micro_1xb16-1e_pose-samples-128x96'
AP10K_FLIP = [1, 0, 2, 3, 4, 8, 9, 10, 5, 6, 7, 14, 15, 16, 11, 12, 13]


@pytest.mark.slow  # about 7 s of CPU
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
    for extra, message in (([], '--dataset'), (['--dataset', 'ochuman'], "'ochuman'")):
        assert tool.main([MICRO, str(tmp_path / 'plus.pth'), str(tmp_path / 'x.onnx')] + extra) == 1
        err = capsys.readouterr().err
        assert message in err and "'coco', 'aic', 'mpii', 'ap10k', 'crowdpose', 'coco_wholebody'" in err
    assert not (tmp_path / 'x.onnx').exists()


SIX = 'td-hm_ViTPose-plus-base_8xb128-210e_6datasets-256x192'
SIX_NAMES = ('coco', 'aic', 'mpii', 'ap10k', 'apt36k', 'coco_wholebody')
SIX_TINY = {'model.backbone.embed_dim': 64, 'model.backbone.depth': 1, 'model.backbone.num_heads': 4,
            'model.backbone.part_features': 16, 'model.backbone.init_cfg': None,
            **{f'model.heads.{n}.in_channels': 64 for n in SIX_NAMES}}


def test_official_vitpose_plus_release_folds_into_the_exported_model(tmp_path):
    """An official ViTPose+ file (keypoint_head + associate_keypoint_heads) for a six-dataset config: the model to
    export for apt36k (expert 4) computes the multi-dataset model's apt36k heatmaps."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    from vitpose_mm.checkpoints import LAYOUTS, from_vitpose_mm
    from vitpose_mm.deploy import build_export_source
    init_default_scope('mmpose')
    multi = randomize_(MODELS.build(load_config(SIX, SIX_TINY).model), seed=8).eval()
    official = {k: v for k, v in multi.state_dict().items() if k.startswith('backbone.')}
    for i, name in enumerate(SIX_NAMES):  # the official names: head 0 is keypoint_head, the others associate heads
        head = from_vitpose_mm({'head.' + k: v for k, v in multi.heads[name].state_dict().items()},
                               LAYOUTS['official'])
        official.update({k if i == 0 else k.replace('keypoint_head.', f'associate_keypoint_heads.{i - 1}.'): v
                         for k, v in head.items()})
    torch.save({'state_dict': official}, tmp_path / 'vitpose+_official.pth')
    source = build_export_source(SIX, str(tmp_path / 'vitpose+_official.pth'), 'apt36k', SIX_TINY)
    assert source.dataset_meta['dataset_name'] == 'apt36k' and source.model.head.out_channels == 17
    assert any('official ViTPose+ release' in n for n in source.notes)
    x = torch.randn(2, 3, 256, 192)
    with torch.no_grad():
        want = multi(x, None, mode='tensor')
        got = source.model(x, None, mode='tensor')
    assert (got - want['apt36k']).abs().max().item() <= 1e-5
    assert (got - want['ap10k']).abs().max().item() > 1e-2  # expert 3 and AP-10K's head differ
