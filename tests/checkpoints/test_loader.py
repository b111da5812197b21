"""The one loader: the pure conversion on every layout (key names, one tensor the conversion moves), load() refusing
a file that does not fit with the key at fault, the ViTPosePretrained initializer on an MAE file, the atomic
writer."""
import os

import pytest
import torch

from convert_utils import build_model, independent_resample, tiny_options
from random_weights import randomize_
from vitpose_mm.checkpoints import (LAYOUTS, CheckpointMismatchError, atomic_path, convert, from_vitpose_mm, load,
                                    load_file)
from vitpose_mm.checkpoints.layouts import MMPRETRAIN_VIT, Layout, Rename, prefixed
from vitpose_mm.models.backbones.vit import ViT

DIMS = dict(embed_dim=64, depth=2, num_heads=4, qkv_bias=True)


@pytest.fixture(scope='module')
def ref():
    return randomize_(build_model(), seed=11)  # tiny ViTPose, 256x192 input: a 16x12 grid, classic decoder


def square_model():
    return build_model(options=tiny_options(**{'model.backbone.img_size': (256, 256)}))  # a 16x16 grid


def mae_timm(seed=4) -> dict:
    """MAE pre-training weights in MAE/timm names: 224 input (14x14 grid), cls token, final norm, decoder."""
    sd = randomize_(ViT(img_size=224, **DIMS), seed=seed).state_dict()
    sd['norm.weight'], sd['norm.bias'] = sd.pop('last_norm.weight'), sd.pop('last_norm.bias')
    sd['cls_token'] = torch.randn(1, 1, 64)
    sd['decoder_embed.weight'] = torch.randn(32, 64)
    return sd


# ---- the pure conversion, one layout at a time ---------------------------------------------------------------------
def test_official_layout(ref):
    sd = from_vitpose_mm(ref.state_dict(), LAYOUTS['official'])
    sd['backbone.cls_token'] = torch.zeros(1, 1, 64)
    pos = sd['backbone.pos_embed'].clone()
    conv = convert(sd, square_model())
    assert conv.layout == 'official' and list(conv.dropped) == ['backbone.cls_token']
    assert 'head.final_layer.weight' in conv.state_dict and not any(k.startswith('keypoint_head.') for k in
                                                                     conv.state_dict)
    assert torch.equal(conv.state_dict['head.final_layer.weight'], sd['keypoint_head.final_layer.weight'])
    # the released 16x12 grid (never the transposed 12x16) resampled to the model's 16x16
    torch.testing.assert_close(conv.state_dict['backbone.pos_embed'], independent_resample(pos, (16, 12), (16, 16)))
    assert torch.equal(sd['backbone.pos_embed'], pos) and 'backbone.cls_token' in sd  # pure: the input is as it was


def test_vitpose_plus_official_layout_folds_the_chosen_expert():
    opts = tiny_options(**{'model.backbone.num_expert': 6, 'model.backbone.part_features': 16})
    moe = randomize_(build_model(options=opts), seed=12).state_dict()
    sd = from_vitpose_mm(moe, LAYOUTS['official'])
    sd.update({k.replace('keypoint_head.', 'associate_keypoint_heads.1.'): v + 1 for k, v in sd.items()
               if k.startswith('keypoint_head.')})  # the mpii head (expert 2), here with COCO's 17 channels
    conv = convert(sd, build_model(), dataset='mpii')
    fc2 = conv.state_dict['backbone.blocks.1.mlp.fc2.weight']
    assert fc2.shape == (64, 256) and not any('.experts.' in k for k in conv.state_dict)
    assert torch.equal(fc2, torch.cat([sd['backbone.blocks.1.mlp.fc2.weight'],
                                       sd['backbone.blocks.1.mlp.experts.2.weight']]))
    assert torch.equal(conv.state_dict['head.final_layer.bias'], sd['associate_keypoint_heads.1.final_layer.bias'])
    assert conv.dropped['backbone.blocks.0.mlp.experts.0.weight'].startswith('expert 0 (coco)')


def test_vitpose_plus_official_layout_for_the_multi_dataset_model():
    from multi_dataset_utils import SIX, TINY, build, official_state_dict
    model = build(SIX, TINY)
    sd = official_state_dict(randomize_(build(SIX, TINY), seed=13))
    conv = convert(sd, model)
    assert sorted(conv.state_dict) == sorted(model.state_dict())
    assert torch.equal(conv.state_dict['heads.aic.final_layer.weight'],
                       sd['associate_keypoint_heads.0.final_layer.weight'])
    assert torch.equal(conv.state_dict['backbone.blocks.0.mlp.experts.5.bias'],
                       sd['backbone.blocks.0.mlp.experts.5.bias'])


def test_mmpose_1x_layout_gets_a_zero_class_row(ref):
    mine = ref.state_dict()
    mmpose_names = Layout('mmpose-test', '', (), (*prefixed('backbone.', MMPRETRAIN_VIT),
                                                  Rename('backbone.last_norm.{p}', 'backbone.ln1.{p}'),
                                                  Rename('{rest}', '{rest}')))
    sd = from_vitpose_mm(mine, mmpose_names)
    sd['backbone.pos_embed'] = mine['backbone.pos_embed'][:, 1:]  # mmpose 1.x: patch rows only
    conv = convert(sd, ref)
    assert conv.layout == 'mmpose' and sorted(conv.state_dict) == sorted(mine)
    pos = conv.state_dict['backbone.pos_embed']
    assert torch.equal(pos[0, 0], torch.zeros(64)) and torch.equal(pos[:, 1:], sd['backbone.pos_embed'])
    fc1 = sd['backbone.layers.1.ffn.layers.0.0.weight']
    assert torch.equal(conv.state_dict['backbone.blocks.1.mlp.fc1.weight'], fc1)


def test_hf_layout_fuses_query_key_value(ref):
    sd = from_vitpose_mm(ref.state_dict(), LAYOUTS['hf'])
    conv = convert(sd, ref)
    assert conv.layout == 'hf' and sorted(conv.state_dict) == sorted(ref.state_dict())
    q, k, v = (sd[f'backbone.encoder.layer.1.attention.attention.{n}.weight'] for n in ('query', 'key', 'value'))
    assert torch.equal(conv.state_dict['backbone.blocks.1.attn.qkv.weight'], torch.cat([q, k, v]))
    assert torch.equal(conv.state_dict['head.deconv_layers.4.running_var'], sd['head.batchnorm2.running_var'])


def test_this_package_layout_is_the_identity(ref):
    sd = dict(ref.state_dict(), **{'data_preprocessor.mean': torch.zeros(3, 1, 1)})
    conv = convert(sd, ref)
    assert conv.layout == 'vitpose_mm' and list(conv.dropped) == ['data_preprocessor.mean']
    assert all(torch.equal(conv.state_dict[k], v) for k, v in ref.state_dict().items())


@pytest.mark.parametrize('names', ['timm', 'mmpretrain'])
def test_pretraining_layouts_for_a_vit_and_for_a_pose_model(names):
    sd = mae_timm()
    if names == 'mmpretrain':
        sd = _mmpretrain_names(sd)
    vit = ViT(img_size=(256, 192), **DIMS)
    conv = convert(sd, vit)
    pos = mae_timm()['pos_embed']
    torch.testing.assert_close(conv.state_dict['pos_embed'], independent_resample(pos, (14, 14), (16, 12)))
    assert {'cls_token', 'decoder_embed.weight'} <= set(conv.dropped) and 'last_norm.weight' not in conv.state_dict
    pose = convert(sd, build_model())  # the same file for a pose model: backbone keys only
    assert conv.layout == pose.layout == 'mae' and pose.backbone_only
    proj = conv.state_dict['blocks.1.attn.proj.weight']
    assert torch.equal(pose.state_dict['backbone.blocks.1.attn.proj.weight'], proj)


def _mmpretrain_names(timm: dict) -> dict:
    """The same weights in mmpretrain's VisionTransformer names (no prefix), final norm ``ln1``."""
    layout = Layout('mmpretrain-test', '', (), (*MMPRETRAIN_VIT, Rename('norm.{p}', 'ln1.{p}'),
                                                Rename('{rest}', '{rest}')))
    sd = from_vitpose_mm(timm, layout)
    assert {'layers.1.ffn.layers.1.weight', 'patch_embed.projection.weight', 'ln1.weight'} <= set(sd)
    return sd


# ---- load(): all or nothing, the key at fault named ----------------------------------------------------------------
def test_load_refuses_a_file_that_does_not_fit_naming_the_key(ref, tmp_path):
    other = randomize_(build_model(options=tiny_options(**{'model.head.out_channels': 14})), seed=2)
    torch.save({'state_dict': other.state_dict()}, tmp_path / 'kpts14.pth')
    model = build_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError, match=r'head\.final_layer\.weight'):
        load(model, str(tmp_path / 'kpts14.pth'))
    sd = dict(ref.state_dict())
    del sd['backbone.blocks.1.norm2.bias']
    with pytest.raises(CheckpointMismatchError, match=r'backbone\.blocks\.1\.norm2\.bias'):
        load(model, sd, verbose=True)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # nothing was loaded
    loaded = load(model, ref.state_dict())
    assert loaded.layout == 'as is' and torch.equal(model.head.final_layer.bias, ref.head.final_layer.bias)


def test_teacher_style_load_refuses_another_grid(ref):
    with pytest.raises(CheckpointMismatchError, match=r'backbone\.pos_embed'):
        load(square_model(), ref.state_dict(), resample=False)


# ---- the weight initializer (a config's init_cfg) -----------------------------------------------------------------
def test_vitpose_pretrained_init_cfg_resamples_mae_14x14_to_16x12(tmp_path):
    sd = mae_timm()
    torch.save({'model': sd}, tmp_path / 'mae.pth')
    init = dict(type='ViTPosePretrained', checkpoint=str(tmp_path / 'mae.pth'))
    model = build_model(options=tiny_options(**{'model.backbone.init_cfg': init}))
    head = model.head.final_layer.weight.detach().clone()
    model.init_weights()  # what the runner does before training
    want = independent_resample(sd['pos_embed'], (14, 14), (16, 12))
    torch.testing.assert_close(model.backbone.pos_embed.data, want, rtol=0, atol=1e-6)
    assert (model.backbone.pos_embed.data[:, 1:] - sd['pos_embed'][:, 1:193]).abs().max() > 0.1  # truly resampled
    assert torch.equal(model.backbone.blocks[1].mlp.fc2.weight, sd['blocks.1.mlp.fc2.weight'])
    assert not torch.equal(model.head.final_layer.weight, head)  # the head keeps its own init_cfg (Normal)
    with pytest.raises(TypeError, match='ViTPosePretrained initialises a ViT backbone'):
        from mmengine.model import initialize
        initialize(model, init)


# ---- writing -------------------------------------------------------------------------------------------------------
def test_atomic_path_leaves_no_partial_file(tmp_path):
    target = tmp_path / 'out' / 'model.pth'
    with atomic_path(target) as tmp:
        torch.save({'w': torch.ones(2)}, tmp)
    assert torch.equal(load_file(target)['w'], torch.ones(2))
    with pytest.raises(OSError, match='disk full'):
        with atomic_path(target) as tmp:
            with open(tmp, 'wb') as f:
                f.write(b'half a checkpoint')
            raise OSError('disk full')
    assert os.listdir(target.parent) == ['model.pth']  # no temporary left, the old file untouched
    assert torch.equal(load_file(target)['w'], torch.ones(2))
    with pytest.raises(RuntimeError, match='interrupted'):
        with atomic_path(tmp_path / 'hf', folder=True) as tmp:
            (open(os.path.join(tmp, 'config.json'), 'w')).close()
            raise RuntimeError('interrupted')
    assert sorted(os.listdir(tmp_path)) == ['out']


@pytest.mark.parametrize('mask', [0o022, 0o027], ids=['umask022', 'umask027'])
def test_atomic_path_gives_the_mode_of_a_plain_write(tmp_path, mask):
    """tempfile's temporaries are owner-only (0o600 / 0o700); the written checkpoint must not stay so."""
    old = os.umask(mask)
    try:
        plain = tmp_path / 'plain.pth'
        torch.save({}, plain)
        os.makedirs(tmp_path / 'plain_dir')
        with atomic_path(tmp_path / 'model.pth') as tmp:
            torch.save({}, tmp)
        with atomic_path(tmp_path / 'hf', folder=True) as tmp:
            (open(os.path.join(tmp, 'config.json'), 'w')).close()
    finally:
        os.umask(old)
    mode = lambda p: os.stat(p).st_mode & 0o777  # noqa: E731
    assert mode(tmp_path / 'model.pth') == mode(plain) == 0o666 & ~mask
    assert mode(tmp_path / 'hf') == mode(tmp_path / 'plain_dir') == 0o777 & ~mask
    assert mode(tmp_path / 'hf' / 'config.json') == 0o666 & ~mask
