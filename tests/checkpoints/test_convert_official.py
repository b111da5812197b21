"""Official ViTPose 0.x and ViTPose+ checkpoints: loaded directly or converted, they give the same numbers.

The official state dicts are written in exactly the official key names, derived from vitpose_mm models by the
inverse of the official key map (the names of the official mmpose/models/backbones/vit.py and
topdown_heatmap_simple_head.py; the test pins them).
"""
import numpy as np
import pytest
import torch
from mmengine.registry import RUNNERS

from convert_utils import build_model, heatmaps, load_config, run_tool, tiny_options
from random_weights import randomize_
from vitpose_mm.checkpoints import DATASETS, LAYOUTS, convert_state_dict, fit_to_model, from_vitpose_mm, load_file

DEPTH = 2


def official_state_dict(model: torch.nn.Module) -> dict:
    """A vitpose_mm model's weights in the official 0.x names, plus the unused class token they carry."""
    sd = from_vitpose_mm(model.state_dict(), LAYOUTS['official'])
    sd['backbone.cls_token'] = torch.randn(1, 1, sd['backbone.pos_embed'].shape[-1])
    return sd


def expected_official_keys(depth: int) -> set:
    keys = {'backbone.cls_token', 'backbone.pos_embed', 'backbone.patch_embed.proj.weight',
            'backbone.patch_embed.proj.bias', 'backbone.last_norm.weight', 'backbone.last_norm.bias',
            'keypoint_head.deconv_layers.0.weight', 'keypoint_head.deconv_layers.3.weight',
            'keypoint_head.final_layer.weight', 'keypoint_head.final_layer.bias'}
    for i in range(depth):
        for part in ('norm1', 'attn.qkv', 'attn.proj', 'norm2', 'mlp.fc1', 'mlp.fc2'):
            keys |= {f'backbone.blocks.{i}.{part}.weight', f'backbone.blocks.{i}.{part}.bias'}
    for bn in (1, 4):
        keys |= {f'keypoint_head.deconv_layers.{bn}.{p}'
                 for p in ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')}
    return keys


@pytest.fixture(scope='module')
def runner(tmp_path_factory):
    """The strict ViTPoseRunner of a shipped config (tiny dims): what `--checkpoint` / `load_from` go through."""
    cfg = load_config()
    cfg.work_dir = str(tmp_path_factory.mktemp('work_dir'))
    return RUNNERS.build(cfg)


def test_official_checkpoint_loads_directly_and_converted(runner, tmp_path, capsys):
    ref = randomize_(build_model(), seed=21)
    official = official_state_dict(ref)
    assert set(official) == expected_official_keys(DEPTH)
    torch.save({'meta': {'mmpose_version': '0.24.0'}, 'state_dict': official}, tmp_path / 'vitpose-b.pth')
    x = torch.randn(2, 3, 256, 192)
    want = heatmaps(ref, x)

    runner.load_checkpoint(str(tmp_path / 'vitpose-b.pth'))  # no conversion step
    assert (heatmaps(runner.model.eval(), x) - want).abs().max() == 0

    code, out, err = run_tool([tmp_path / 'vitpose-b.pth', tmp_path / 'converted.pth'], capsys)
    assert code == 0, err
    assert 'layout: official (detected)' in out and 'backbone.cls_token: unused' in out
    converted = load_file(tmp_path / 'converted.pth')['state_dict']
    assert sorted(converted) == sorted(ref.state_dict())
    assert all(torch.equal(converted[k], v) for k, v in ref.state_dict().items())  # exact
    runner.model.apply(lambda m: m.reset_parameters() if hasattr(m, 'reset_parameters') else None)
    runner.load_checkpoint(str(tmp_path / 'converted.pth'))
    assert (heatmaps(runner.model.eval(), x) - want).abs().max() == 0


def test_other_input_size_resamples_the_same_way_both_paths(tmp_path, capsys):
    """A 256x192 checkpoint for a 384x288 config: the model's own load hook and the converter agree."""
    ref = randomize_(build_model(), seed=22)
    torch.save({'state_dict': official_state_dict(ref)}, tmp_path / 'official.pth')
    opts = tiny_options(**{'model.backbone.img_size': (384, 288)})
    direct = build_model(options=opts)
    # official names as they are: mmpose's hook renames keypoint_head -> head, the ViT's resamples pos_embed
    direct.load_state_dict(load_file(tmp_path / 'official.pth')['state_dict'], strict=True)
    code, out, err = run_tool([tmp_path / 'official.pth', tmp_path / 'big.pth', '--config',
                               'td-hm_ViTPose-base_8xb64-210e_coco-256x192',
                               '--cfg-options', *[f'{k}={v}' for k, v in opts.items()]], capsys)
    assert code == 0, err
    assert any('resampled' in line and '16x12' in line and '24x18' in line for line in out.splitlines())
    pos = load_file(tmp_path / 'big.pth')['state_dict']['backbone.pos_embed']
    assert pos.shape == (1, 1 + 24 * 18, 64)
    torch.testing.assert_close(pos, direct.backbone.pos_embed.data, rtol=0, atol=0)


def moe_reference(dataset: str, backbone_sd=None):
    """A ViTPose+ pose model (6 experts, tiny) running ``dataset``'s expert, with that dataset's keypoints."""
    index, num_kpts = DATASETS[dataset]
    opts = tiny_options(**{'model.backbone.num_expert': 6, 'model.backbone.part_features': 16,
                           'model.backbone.default_dataset': index, 'model.head.out_channels': num_kpts})
    model = randomize_(build_model(options=opts), seed=30 + index)
    if backbone_sd is not None:
        model.backbone.load_state_dict(backbone_sd)
    return model


@pytest.mark.slow  # about 4 s of CPU
def test_official_vitpose_plus_picks_one_dataset(tmp_path, capsys):
    coco = moe_reference('coco')
    models = {name: moe_reference(name, coco.backbone.state_dict()) for name in DATASETS}
    official = official_state_dict(coco)
    for name, (index, _) in DATASETS.items():  # the five associate heads, each with its dataset's keypoints
        if index:
            head = from_vitpose_mm({'head.' + k: v for k, v in models[name].head.state_dict().items()},
                                   LAYOUTS['official'])
            official.update({k.replace('keypoint_head.', f'associate_keypoint_heads.{index - 1}.'): v
                             for k, v in head.items()})
    assert 'backbone.blocks.1.mlp.experts.5.weight' in official
    assert official['associate_keypoint_heads.4.final_layer.weight'].shape[0] == 133
    x = torch.randn(2, 3, 256, 192)
    for name in ('coco', 'aic', 'wholebody'):
        conv = convert_state_dict(official, dataset=name, source='vitpose+_base.pth')
        assert conv.arch.part_features == 0 and conv.arch.num_keypoints == DATASETS[name][1]
        plain = build_model(options=tiny_options(**{'model.head.out_channels': DATASETS[name][1]}))
        fit_to_model(conv, plain)
        plain.load_state_dict(conv.state_dict, strict=True)
        diff = (heatmaps(plain, x) - heatmaps(models[name], x)).abs().max().item()
        assert diff <= 1e-5, (name, diff)
        # every dropped key is named with its reason
        assert len(conv.dropped) == 1 + DEPTH * 2 * 6 + 14 * 5  # cls_token, all experts, five of six heads
        if name == 'aic':
            assert conv.dropped['keypoint_head.final_layer.weight'] == 'head of dataset coco, not aic'
            assert 'head of dataset wholebody' in conv.dropped['associate_keypoint_heads.4.final_layer.bias']
            assert conv.dropped['backbone.blocks.0.mlp.experts.0.weight'] == \
                'expert 0 (coco), not the one of dataset aic'
            assert 'folded into' in conv.dropped['backbone.blocks.0.mlp.experts.1.weight']

    torch.save({'state_dict': official}, tmp_path / 'vitpose+.pth')
    code, _, err = run_tool([tmp_path / 'vitpose+.pth', tmp_path / 'x.pth'], capsys)
    assert code == 1 and '--dataset' in err and 'wholebody' in err
    assert not (tmp_path / 'x.pth').exists()
    code, out, err = run_tool([tmp_path / 'vitpose+.pth', tmp_path / 'aic.pth', '--dataset', 'aic'], capsys)
    assert code == 0, err
    assert 'model.head.out_channels=14' in out  # the recipe for the shipped config
    meta = load_file(tmp_path / 'aic.pth')['meta']['vitpose_mm']
    assert meta['dataset'] == 'aic' and meta['arch']['num_keypoints'] == 14
    assert np.isclose(meta['arch']['mlp_ratio'], 4.0)
    # the recorded architecture names what a reader of the file needs without building it
    assert meta['arch']['decoder'] == 'classic' and tuple(meta['arch']['img_size']) == (256, 192)
