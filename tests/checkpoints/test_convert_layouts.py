"""The key tables of every layout, layout detection, the architecture read off the weights, MAE through the tool,
and the vitpose_mm -> HF -> vitpose_mm round trip (no transformers needed)."""
import json

import pytest
import torch

from convert_utils import build_model, config_name, run_tool, tiny_options
from random_weights import randomize_
from vitpose_mm.checkpoints import (LAYOUTS, convert_state_dict, detect_layout, from_vitpose_mm, infer_arch,
                                    load_file, to_vitpose_mm)
from vitpose_mm.models.backbones.pos_embed import resize_pos_embed
from vitpose_mm.models.backbones.vit import ViT


@pytest.fixture(scope='module')
def tiny_sd():
    return randomize_(build_model(), seed=5).state_dict()


def test_hf_key_names_of_one_block(tiny_sd):
    hf = from_vitpose_mm(tiny_sd, LAYOUTS['hf'])
    layer = sorted(k[len('backbone.encoder.layer.0.'):] for k in hf if k.startswith('backbone.encoder.layer.0.'))
    assert layer == sorted(f'{m}.{p}' for m in (
        'attention.attention.query', 'attention.attention.key', 'attention.attention.value',
        'attention.output.dense', 'layernorm_before', 'layernorm_after', 'mlp.fc1', 'mlp.fc2') for p in ('weight',
                                                                                                          'bias'))
    head = sorted(k for k in hf if k.startswith('head.'))
    assert head == sorted(['head.deconv1.weight', 'head.deconv2.weight', 'head.conv.weight', 'head.conv.bias'] + [
        f'head.batchnorm{i}.{p}' for i in (1, 2)
        for p in ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')])
    assert {'backbone.embeddings.position_embeddings', 'backbone.layernorm.weight',
            'backbone.embeddings.patch_embeddings.projection.weight'} <= set(hf)
    q, k, v = (hf[f'backbone.encoder.layer.1.attention.attention.{n}.weight'] for n in ('query', 'key', 'value'))
    assert torch.equal(torch.cat([q, k, v]), tiny_sd['backbone.blocks.1.attn.qkv.weight'])


@pytest.mark.parametrize('layout', ['official', 'vitpose_mm', 'hf'])
def test_tables_invert_exactly(tiny_sd, layout):
    theirs = from_vitpose_mm(tiny_sd, LAYOUTS[layout])
    assert detect_layout(list(theirs)) == layout
    back = to_vitpose_mm(theirs, LAYOUTS[layout])
    assert sorted(back.state_dict) == sorted(tiny_sd) and back.dropped == {}
    assert all(torch.equal(back.state_dict[k], v) for k, v in tiny_sd.items())


def test_detection_of_pretraining_and_errors():
    timm = ViT(img_size=224, embed_dim=32, depth=2, num_heads=4).state_dict()
    assert detect_layout(list(timm) + ['cls_token', 'norm.weight']) == 'mae'
    assert detect_layout(['backbone.layers.0.ln1.weight', 'backbone.cls_token']) == 'mae'  # mmpretrain names
    with pytest.raises(ValueError) as e:
        detect_layout(['conv1.weight', 'bn1.weight', 'layer1.0.conv1.weight', 'fc.weight'])
    for key in ("'backbone.blocks.{i}.norm1.weight'", "'backbone.layers.{i}.ln1.weight'",
                "'backbone.encoder.layer.{i}.layernorm_before.weight'", 'conv1.weight'):
        assert key in str(e.value)


def test_a_key_no_rule_knows_is_an_error(tiny_sd):
    mmpose = {k.replace('blocks.0.norm1', 'layers.0.ln1'): v for k, v in tiny_sd.items()}
    theirs = dict(from_vitpose_mm(tiny_sd, LAYOUTS['hf']))
    theirs['backbone.encoder.layer.0.attention.attention.gamma'] = torch.ones(3)  # e.g. a layer-scale weight
    with pytest.raises(KeyError, match='layer.0.attention.attention.gamma'):
        to_vitpose_mm(theirs, LAYOUTS['hf'])
    del theirs['backbone.encoder.layer.0.attention.attention.gamma']
    del theirs['backbone.encoder.layer.1.attention.attention.value.bias']
    with pytest.raises(KeyError, match=r'query.bias.*key.bias.*backbone.blocks.1.attn.qkv.bias'):
        to_vitpose_mm(theirs, LAYOUTS['hf'])
    with pytest.raises(ValueError, match=r"\['official', 'mmpose'\]"):  # two backbones in one file
        detect_layout(list(mmpose) + ['backbone.layers.3.ln1.weight'] + ['keypoint_head.x'] +
                      ['backbone.blocks.5.norm1.weight'])


def test_arch_and_config_recipe(tiny_sd):
    # the tensors infer_arch reads, at ViT-B shapes (a ViT-B simple model with a 14-keypoint head)
    sd = {'backbone.pos_embed': torch.empty(1, 193, 768),
          'backbone.patch_embed.proj.weight': torch.empty(768, 3, 16, 16),
          'backbone.blocks.0.mlp.fc1.weight': torch.empty(3072, 768),
          'backbone.blocks.0.attn.qkv.bias': torch.empty(2304),
          'head.final_layer.weight': torch.empty(14, 768, 3, 3), 'head.final_layer.bias': torch.empty(14)}
    sd.update({f'backbone.blocks.{i}.norm1.weight': torch.empty(768) for i in range(12)})
    arch = infer_arch(sd)
    assert (arch.size_name, arch.num_heads, arch.grid, arch.decoder, arch.num_keypoints) == \
        ('base', 12, (16, 12), 'simple', 14)
    assert arch.config_name() == 'td-hm_ViTPose-base-simple_8xb64-210e_coco-256x192.py'
    assert arch.cfg_options() == {'model.head.out_channels': 14}
    tiny = infer_arch(tiny_sd, num_heads=4)
    assert tiny.decoder == 'classic' and tiny.deconv_filters == (256, 256) and tiny.config_name() == \
        config_name() + '.py'
    assert {k: v for k, v in tiny.cfg_options().items()} == {
        k: v for k, v in tiny_options().items() if k != 'model.backbone.init_cfg'}


def test_vitpose_mm_to_hf_and_back_is_exact(tiny_sd, tmp_path, capsys):
    torch.save({'state_dict': tiny_sd}, tmp_path / 'mine.pth')
    opts = [f'{k}={v}' for k, v in tiny_options().items()]
    code, out, err = run_tool([tmp_path / 'mine.pth', tmp_path / 'hf', '--to', 'hf', '--config', config_name(),
                               '--cfg-options', *opts], capsys)
    assert code == 0, err
    cfg = json.loads((tmp_path / 'hf' / 'config.json').read_text())
    assert cfg['backbone_config']['layer_norm_eps'] == 1e-6 and cfg['backbone_config']['num_attention_heads'] == 4
    assert cfg['use_simple_decoder'] is False and len(cfg['id2label']) == 17
    code, out, err = run_tool([tmp_path / 'hf', tmp_path / 'back.pth'], capsys)
    assert code == 0, err
    assert 'layout: hf' in out and 'config.json' in out
    back = load_file(tmp_path / 'back.pth')['state_dict']
    assert sorted(back) == sorted(tiny_sd) and all(torch.equal(back[k], v) for k, v in tiny_sd.items())
    # a second --to hf into the same folder is refused: nothing is overwritten
    code, _, err = run_tool([tmp_path / 'mine.pth', tmp_path / 'hf', '--to', 'hf'], capsys)
    assert code == 1 and str(tmp_path / 'hf') in err


def test_hf_config_that_vitpose_cannot_reproduce_is_refused(tiny_sd, tmp_path, capsys):
    torch.save({'state_dict': tiny_sd}, tmp_path / 'mine.pth')
    opts = [f'{k}={v}' for k, v in tiny_options().items()]
    assert run_tool([tmp_path / 'mine.pth', tmp_path / 'hf', '--to', 'hf', '--config', config_name(),
                     '--cfg-options', *opts], capsys)[0] == 0
    cfg = json.loads((tmp_path / 'hf' / 'config.json').read_text())
    cfg['backbone_config']['out_indices'] = [1]
    (tmp_path / 'hf' / 'config.json').write_text(json.dumps(cfg))
    code, _, err = run_tool([tmp_path / 'hf', tmp_path / 'x.pth'], capsys)
    assert code == 1 and 'block 1' in err and not (tmp_path / 'x.pth').exists()
    (tmp_path / 'hf' / 'config.json').unlink()
    code, _, err = run_tool([tmp_path / 'hf', tmp_path / 'x.pth'], capsys)
    assert code == 1 and 'config.json' in err


def test_mae_weights_through_the_tool_equal_init_cfg(tmp_path, capsys):
    """Pre-training weights converted for a config equal what the backbone's init_cfg loads from the original."""
    mae = ViT(img_size=224, embed_dim=64, depth=2, num_heads=4, qkv_bias=True).state_dict()
    mae['norm.weight'], mae['norm.bias'] = mae.pop('last_norm.weight'), mae.pop('last_norm.bias')
    mae['cls_token'], mae['decoder_embed.weight'] = torch.randn(1, 1, 64), torch.randn(16, 64)
    mae['pos_embed'] = torch.randn(1, 197, 64)
    torch.save({'model': mae}, tmp_path / 'mae.pth')
    opts = [f'{k}={v}' for k, v in tiny_options().items()]
    code, out, err = run_tool([tmp_path / 'mae.pth', tmp_path / 'mae_16x12.pth', '--config', config_name(),
                               '--cfg-options', *opts], capsys)
    assert code == 0, err
    assert 'layout: mae (detected)' in out and 'backbone only' in out and 'pre-training decoder' in out
    sd = load_file(tmp_path / 'mae_16x12.pth')['state_dict']
    torch.testing.assert_close(sd['backbone.pos_embed'], resize_pos_embed(mae['pos_embed'], (14, 14), (16, 12)))
    a = ViT(img_size=(256, 192), embed_dim=64, depth=2, num_heads=4, qkv_bias=True,
            init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'mae_16x12.pth')))
    b = ViT(img_size=(256, 192), embed_dim=64, depth=2, num_heads=4, qkv_bias=True,
            init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'mae.pth')))
    a.init_weights(), b.init_weights()
    for k, v in a.state_dict().items():
        if not k.startswith('last_norm'):
            assert torch.equal(v, b.state_dict()[k]), k


def test_official_conversion_names_every_dropped_key(tiny_sd):
    official = from_vitpose_mm(tiny_sd, LAYOUTS['official'])
    official['backbone.cls_token'] = torch.zeros(1, 1, 64)
    conv = convert_state_dict(official)
    assert conv.layout == 'official' and list(conv.dropped) == ['backbone.cls_token']
    with pytest.raises(ValueError, match='no experts'):
        convert_state_dict(official, dataset='aic')
