"""The one loading path: the position-grid rule, patch-size adaptation, and one diagnosis at every entry point."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from convert_utils import build_model, load_config, tiny_options
from random_weights import randomize_
from vitpose_mm.checkpoints import (LAYOUTS, CheckpointMismatchError, adapt_patch_kernel, convert_checkpoint,
                                    from_vitpose_mm, load_checkpoint, save_checkpoint)
from vitpose_mm.models.backbones.vit import ViT
from vitpose_mm.models.layers.pos_embed import AmbiguousGridError, source_grid
from vitpose_mm.utils import find_config

TARGETS = {'square': ((256, 256), (16, 16)), 'portrait': ((384, 288), (24, 18)), 'landscape': ((192, 256), (12, 16))}


def independent_resample(pos: torch.Tensor, src, dst) -> torch.Tensor:
    """Row 1 + i * w + j is patch (i, j): reshape to (h, w), interpolate, flatten; the class row stays."""
    grid = pos[0, 1:].reshape(src[0], src[1], -1).permute(2, 0, 1)[None]
    out = F.interpolate(grid, size=dst, mode='bicubic', align_corners=False)[0]
    return torch.cat([pos[0, :1], out.permute(1, 2, 0).reshape(dst[0] * dst[1], -1)])[None]


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_unchanged(model, before):
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), f'{k} changed by a refused load'


def target_model(img_size=(256, 192), simple=False, **extra):
    return build_model(simple, options=tiny_options(simple, **{'model.backbone.img_size': img_size, **extra}))


@pytest.fixture(scope='module')
def ref():
    return randomize_(build_model(), seed=3)  # 256x192: a 16x12 grid


@pytest.fixture(scope='module')
def official(ref, tmp_path_factory):
    sd = from_vitpose_mm(ref.state_dict(), LAYOUTS['official'])
    sd['backbone.cls_token'] = torch.zeros(1, 1, 64)
    path = tmp_path_factory.mktemp('official') / 'vitpose_official.pth'
    torch.save({'state_dict': sd}, path)
    return path, sd


# ---- the grid rule ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize('target', list(TARGETS))
def test_official_16x12_resampled_to_square_portrait_landscape(target, ref, official):
    img_size, grid = TARGETS[target]
    path, sd = official
    pos = ref.state_dict()['backbone.pos_embed']
    want = independent_resample(pos, (16, 12), grid)
    model = target_model(img_size)
    loaded = load_checkpoint(model, str(path))
    assert any('from a 16x12 to the model\'s' in n for n in loaded.notes)
    torch.testing.assert_close(model.backbone.pos_embed.data, want, rtol=0, atol=1e-6)
    raw = target_model(img_size)  # a plain load_state_dict goes through the ViT hook, the same function
    raw.load_state_dict(dict(sd), strict=True)
    # ... but a bare state dict does not say its layout: with as many rows as the model it is taken as it is (a
    # model's own state dict must load back unchanged); only load_checkpoint knows the file is official
    torch.testing.assert_close(raw.backbone.pos_embed.data, pos if target == 'landscape' else want, rtol=0, atol=0)
    if target == 'square':  # the transposed reading (the old fault) is far from it
        wrong = independent_resample(pos, (12, 16), grid)
        assert (wrong - want).abs().max() > 0.05


def test_ambiguous_grid_is_refused_until_told_or_recorded(ref, tmp_path):
    sd = ref.state_dict()  # vitpose_mm names: no layout default, and no grid recorded
    torch.save({'state_dict': sd}, tmp_path / 'mine.pth')
    model = target_model((256, 256))
    before = snapshot(model)
    with pytest.raises(CheckpointMismatchError) as e:
        load_checkpoint(model, str(tmp_path / 'mine.pth'))
    assert '16x12' in str(e.value) and '12x16' in str(e.value) and 'src_grid=(16, 12)' in str(e.value)
    assert_unchanged(model, before)
    with pytest.raises(AmbiguousGridError, match='8x6.*6x8.*--src-grid 8 6'):  # the raw ViT hook too
        ViT(img_size=(64, 64), patch_size=16, embed_dim=8, depth=1, num_heads=2).load_state_dict(
            {**ViT(img_size=(64, 48), patch_size=16, embed_dim=8, depth=1, num_heads=2).state_dict(),
             'pos_embed': torch.zeros(1, 1 + 8 * 6, 8)})

    pos = sd['backbone.pos_embed']
    load_checkpoint(model, str(tmp_path / 'mine.pth'), src_grid=(16, 12))
    torch.testing.assert_close(model.backbone.pos_embed.data, independent_resample(pos, (16, 12), (16, 16)))
    # a grid the file records wins; with as many rows as the model but transposed, it is still resampled
    torch.save({'state_dict': sd, 'meta': {'vitpose_mm': {'grid': [12, 16]}}}, tmp_path / 'landscape.pth')
    load_checkpoint(model, str(tmp_path / 'landscape.pth'))
    torch.testing.assert_close(model.backbone.pos_embed.data, independent_resample(pos, (12, 16), (16, 16)))
    wide = target_model((192, 256))
    load_checkpoint(wide, str(tmp_path / 'landscape.pth'))  # recorded 12x16 = the model's: as it is
    assert torch.equal(wide.backbone.pos_embed.data, pos)
    torch.save({'state_dict': sd, 'meta': {'vitpose_mm': {'grid': [16, 12]}}}, tmp_path / 'portrait.pth')
    load_checkpoint(wide, str(tmp_path / 'portrait.pth'))
    torch.testing.assert_close(wide.backbone.pos_embed.data, independent_resample(pos, (16, 12), (12, 16)))


def test_source_grid_rule():
    assert source_grid(196) == ((14, 14), 'a square number of rows')
    assert source_grid(192, default=(16, 12))[0] == (16, 12)
    assert source_grid(192, recorded=(12, 16), default=(16, 12))[0] == (12, 16)
    assert source_grid(192, given=(16, 12), recorded=(12, 16))[0] == (16, 12)
    with pytest.raises(ValueError, match='src_grid.*16x16.*256'):
        source_grid(192, given=(16, 16))
    with pytest.raises(AmbiguousGridError, match='24x18 or a 18x24'):
        source_grid(432, default=(16, 12))


def test_saved_checkpoints_record_the_grid(monkeypatch, tmp_path):
    from mmengine.runner import Runner

    from vitpose_mm.engine.runner import ViTPoseRunner
    seen = {}

    def save(self, out_dir, filename, *a, meta=None, **k):
        seen.update(meta=meta, filename=filename)
        (tmp_path / filename).write_bytes(b'weights')
    monkeypatch.setattr(Runner, 'save_checkpoint', save)

    runner = ViTPoseRunner.__new__(ViTPoseRunner)  # only what save_checkpoint reads
    runner.model = target_model((192, 256))
    runner.save_checkpoint(str(tmp_path), 'x.pth', meta={'epoch': 3})
    assert seen['meta'] == {'epoch': 3, 'vitpose_mm': {'grid': [12, 16], 'patch_size': [16, 16],
                                                      'strategy': 'a single process'}}
    # written under another name, then renamed: a kill during the write leaves no x.pth
    assert seen['filename'] == 'x.pth.part' and sorted(p.name for p in tmp_path.iterdir()) == ['x.pth']


# ---- patch-size adaptation ----------------------------------------------------------------------------------------
def mae_h14_like(embed_dim=32, depth=2, num_heads=4) -> dict:
    """MAE's ViT-H/14 file in miniature: MAE/timm names, 224 input, 14x14 patches (a 16x16 grid), cls token."""
    sd = randomize_(ViT(img_size=224, patch_size=14, embed_dim=embed_dim, depth=depth, num_heads=num_heads,
                        qkv_bias=True), seed=5).state_dict()
    sd['norm.weight'], sd['norm.bias'] = sd.pop('last_norm.weight'), sd.pop('last_norm.bias')
    sd['cls_token'] = torch.randn(1, 1, embed_dim)
    sd['decoder_embed.weight'] = torch.randn(16, embed_dim)
    return sd


def test_mae_14x14_patches_load_into_16x16_patches(tmp_path):
    src = mae_h14_like()
    assert src['patch_embed.proj.weight'].shape[-2:] == (14, 14) and src['pos_embed'].shape[1] == 1 + 16 * 16
    torch.save({'model': src}, tmp_path / 'mae_h14.pth')
    dims = dict(img_size=(64, 48), patch_size=16, embed_dim=32, depth=2, num_heads=4, qkv_bias=True)
    model = ViT(init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'mae_h14.pth')), **dims)
    model.init_weights()
    kernel, want = model.patch_embed.proj.weight.data, src['patch_embed.proj.weight']
    assert kernel.shape[-2:] == (16, 16)
    assert torch.equal(kernel[..., 1:15, 1:15], want)  # the source in the centre
    border = kernel.clone()
    border[..., 1:15, 1:15] = 0
    assert border.abs().max() == 0 and want.abs().min() > 0  # zero on the border only
    torch.testing.assert_close(model.pos_embed.data, independent_resample(src['pos_embed'], (16, 16), (4, 3)))
    assert torch.equal(model.blocks[1].attn.qkv.weight, src['blocks.1.attn.qkv.weight'])

    bilinear = ViT(init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'mae_h14.pth'),
                                 patch_padding='bilinear'), **dims)
    bilinear.init_weights()
    torch.testing.assert_close(bilinear.patch_embed.proj.weight.data,
                               F.interpolate(want, size=(16, 16), mode='bilinear', align_corners=False))
    with pytest.raises(ValueError, match="patch_padding.*'pad', 'bilinear', 'bicubic'.*'zeros'"):
        ViT(init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'mae_h14.pth'), patch_padding='zeros'),
            **dims).init_weights()
    assert torch.equal(adapt_patch_kernel(kernel, (14, 14)), want)  # 'pad' crops back to the same kernel


def test_shipped_huge_configs_start_from_mae_vit_h14(tmp_path):
    src = mae_h14_like()
    torch.save({'model': src}, tmp_path / 'mae_pretrain_vit_huge.pth')
    for name in ('td-hm_ViTPose-huge_8xb64-210e_coco-256x192', 'td-hm_ViTPose-huge-simple_8xb64-210e_coco-256x192'):
        cfg = Config.fromfile(find_config(name))
        bb = cfg.model.backbone
        assert bb.patch_size == 16 and bb.init_cfg.patch_padding == 'pad'
        assert bb.init_cfg.checkpoint.endswith('mae_pretrain_vit_huge.pth')
        small = {**bb.to_dict(), 'embed_dim': 32, 'depth': 2, 'num_heads': 4, 'drop_path_rate': 0.0,
                 'init_cfg': {**bb.init_cfg.to_dict(), 'checkpoint': str(tmp_path / 'mae_pretrain_vit_huge.pth')}}
        small.pop('type')
        model = ViT(**small)
        model.init_weights()
        assert torch.equal(model.patch_embed.proj.weight[..., 1:15, 1:15], src['patch_embed.proj.weight'])
        torch.testing.assert_close(model.pos_embed.data, independent_resample(src['pos_embed'], (16, 16), (16, 12)))


# ---- the wrong kind of checkpoint, at every entry point -------------------------------------------------------
@pytest.fixture(scope='module')
def wrong_kinds(ref, tmp_path_factory):
    """name -> (file, model options, simple model?, what the message must say)."""
    d = tmp_path_factory.mktemp('kinds')
    moe = randomize_(build_model(options=tiny_options(**{'model.backbone.num_expert': 6,
                                                         'model.backbone.part_features': 16})), seed=4)
    plus = from_vitpose_mm(moe.state_dict(), LAYOUTS['official'])
    for k in [k for k in plus if k.startswith('keypoint_head.')]:
        for i in range(5):
            plus[k.replace('keypoint_head.', f'associate_keypoint_heads.{i}.')] = plus[k].clone()
    torch.save({'state_dict': plus}, d / 'vitpose+_official.pth')
    torch.save({'state_dict': randomize_(build_model(simple=True), 6).state_dict()}, d / 'simple.pth')
    torch.save({'state_dict': ref.state_dict()}, d / 'classic.pth')
    torch.save({'model': mae_h14_like(embed_dim=64)}, d / 'mae.pth')
    save_checkpoint(convert_checkpoint(str(d / 'mae.pth'), backbone=build_model().backbone), d / 'backbone.pth')
    return {
        'vitpose+': (d / 'vitpose+_official.pth', False,
                     ['ViTPose+', '6 experts and 6 heads', 'tools/convert_checkpoint.py', '--dataset']),
        'simple-in-classic': (d / 'simple.pth', False,
                              ['simple decoder', 'classic decoder', 'td-hm_ViTPose-base-simple_8xb64']),
        'classic-in-simple': (d / 'classic.pth', True, ['classic decoder', 'td-hm_ViTPose-base_8xb64']),
        'mae': (d / 'mae.pth', False, ['pre-training weights', 'model.backbone.init_cfg']),
        'backbone-only': (d / 'backbone.pth', False,
                          ['backbone-only', 'model.backbone.init_cfg', 'do not convert it again']),
    }


def check_refused(load, model, expected, keys=True):
    before = snapshot(model)
    with pytest.raises(CheckpointMismatchError) as e:
        load(model)
    message = str(e.value)
    for words in expected:
        assert words in message, (words, message)
    assert 'nothing was loaded' in message and ('VITPOSE_MM_VERBOSE' in message or not keys)
    assert_unchanged(model, before)
    return message


@pytest.mark.parametrize('kind', ['vitpose+', 'simple-in-classic', 'classic-in-simple', 'mae', 'backbone-only'])
def test_wrong_kind_is_diagnosed_everywhere(kind, wrong_kinds, tmp_path, monkeypatch):
    from mmengine.registry import RUNNERS

    from vitpose_mm.apis import PoseEstimator
    path, simple, expected = wrong_kinds[kind]
    message = check_refused(lambda m: load_checkpoint(m, str(path)), target_model(simple=simple), expected)
    assert 'backbone.blocks.0.' not in message  # keys grouped, not listed

    cfg = load_config(simple)
    cfg.work_dir = str(tmp_path)
    # one visualizer per case: mmengine hands every runner the existing Visualizer of the config's name
    # ('visualizer'), whose vis_data folder lies in an earlier case's temporary folder
    cfg.visualizer.name = f'visualizer-{tmp_path.name}'
    runner = RUNNERS.build(cfg)  # load_from / --resume / --checkpoint
    check_refused(lambda m: runner.load_checkpoint(str(path)), runner.model, expected)

    cfg.dump(str(tmp_path / 'cfg.py'))
    model = target_model(simple=simple)
    monkeypatch.setattr('vitpose_mm.apis.inference.init_model', lambda *a, **k: model)
    check_refused(lambda m: PoseEstimator.from_config(str(tmp_path / 'cfg.py'), str(path)), model, expected)


def test_vitpose_plus_as_init_cfg_and_in_the_demo_tool(wrong_kinds, tmp_path):
    import cv2
    import numpy as np
    path, _, expected = wrong_kinds['vitpose+']
    backbone = build_model().backbone
    backbone.init_cfg = dict(type='Pretrained', checkpoint=str(path))
    check_refused(lambda m: m.init_weights(), backbone, expected, keys=False)

    from conftest import load_tool
    demo = load_tool('demo')
    cfg = load_config()
    cfg.dump(str(tmp_path / 'cfg.py'))
    cv2.imwrite(str(tmp_path / 'img.png'), np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(SystemExit) as e:
        demo.main([str(tmp_path / 'img.png'), '--pose-config', str(tmp_path / 'cfg.py'), '--pose-checkpoint',
                   str(path), '--out-dir', str(tmp_path / 'out')])
    assert all(words in str(e.value) for words in expected)


def test_test_tool_says_what_the_checkpoint_is(samples_dir, tmp_path):
    """tools/test.py (what `mim test` runs) with MAE weights as the pose checkpoint: refused before any image."""
    import os.path as osp

    from conftest import load_tool
    from inference_models import POSE_CONFIG
    coco = osp.join(samples_dir, 'coco')
    torch.save({'model': mae_h14_like(embed_dim=192, depth=6, num_heads=3)}, tmp_path / 'mae.pth')
    test_tool = load_tool('test')
    with pytest.raises(SystemExit) as e:
        test_tool.main([POSE_CONFIG, str(tmp_path / 'mae.pth'), '--work-dir', str(tmp_path / 'work'),
                        '--cfg-options', f'test_dataloader.dataset.data_root={coco}/',
                        'test_dataloader.dataset.ann_file=test_coco.json', 'test_dataloader.dataset.data_prefix.img=',
                        f'test_evaluator.ann_file={coco}/test_coco.json', 'test_dataloader.num_workers=0',
                        'test_dataloader.persistent_workers=False'])
    message = str(e.value)
    assert message.startswith('error: ') and 'pre-training weights' in message
    assert 'model.backbone.init_cfg.checkpoint=' in message and 'nothing was loaded' in message


def test_converter_takes_src_grid_and_records_the_grid(ref, tmp_path, capsys):
    from convert_utils import config_name, run_tool
    from vitpose_mm.checkpoints import load_file
    torch.save({'state_dict': ref.state_dict()}, tmp_path / 'mine.pth')  # no recorded grid, not official
    opts = [f'{k}={v}' for k, v in tiny_options(**{'model.backbone.img_size': (256, 256)}).items()]
    args = [tmp_path / 'mine.pth', tmp_path / 'out.pth', '--config', config_name(), '--cfg-options', *opts]
    code, _, err = run_tool(args, capsys)
    assert code == 1 and '16x12' in err and '12x16' in err and not (tmp_path / 'out.pth').exists()
    code, out, err = run_tool(args + ['--src-grid', '16', '12'], capsys)
    assert code == 0, err
    assert any('resampled' in line and '16x12' in line and '16x16' in line and 'src_grid' in line for line in out.splitlines())
    written = load_file(tmp_path / 'out.pth')
    assert written['meta']['vitpose_mm']['grid'] == [16, 16]
    torch.testing.assert_close(written['state_dict']['backbone.pos_embed'],
                               independent_resample(ref.state_dict()['backbone.pos_embed'], (16, 12), (16, 16)))


def test_patch_adaptation_is_noted_with_the_source_grid(tmp_path):
    from vitpose_mm.checkpoints import convert_backbone_state_dict
    model = ViT(img_size=(64, 48), patch_size=16, embed_dim=32, depth=2, num_heads=4, qkv_bias=True)
    _, _, notes = convert_backbone_state_dict(mae_h14_like(), model)
    assert notes[0].startswith('patch_embed.proj.weight:') and all(
        words in notes[0] for words in ('14x14 kernel', '16x16 patches', '(pad)', 'grid is 16x16', '224x224'))
    assert notes[1].startswith('pos_embed') and '16x16' in notes[1] and '4x3' in notes[1] and 'bicubic' in notes[1]


def test_diagnosis_groups_keys_by_kind_and_names_a_lone_key():
    from vitpose_mm.checkpoints.diagnose import group_keys
    blocks = [f'backbone.blocks.{i}.mlp.fc2.{p}' for i in range(3) for p in ('weight', 'bias')]
    assert group_keys(blocks) == ['backbone.blocks.N.mlp.fc2.* (6)']
    assert group_keys(['backbone.cls_token']) == ['backbone.cls_token']
    assert group_keys(['backbone.blocks.2.norm1.weight', 'backbone.blocks.2.norm1.bias']) == \
        ['backbone.blocks.2.norm1.* (2)']
