"""The diagnosis of a checkpoint that does not fit (vitpose_mm/checkpoints/diagnose.py), on hand-made state dicts:
what kind of checkpoint it is (kind, layout, experts, heads, decoder, dims, patch, position rows), the fix chosen
for each case, the key grouping and the verbose switch. Tensors are zeros: only keys and shapes matter."""
import pytest
import torch

from vitpose_mm.checkpoints.arch import Arch
from vitpose_mm.checkpoints.diagnose import (CheckpointKind, describe_checkpoint, describe_model, fix_for_arch,
                                             fix_for_kind, group_keys, mismatch_message, verbose_wanted)

SIX = 'coco, aic, mpii, ap10k, apt36k, wholebody'


def z(*shape):
    return torch.zeros(shape)


def vitpose_plus_official(dim=8, depth=2, experts=6, extra_heads=5):
    """Official ViTPose+ names: class token, 1 + 16x12 position rows, experts in every block, associate heads."""
    sd = {'backbone.cls_token': z(1, 1, dim), 'backbone.pos_embed': z(1, 193, dim),
          'backbone.patch_embed.proj.weight': z(dim, 3, 16, 16)}
    for i in range(depth):
        sd[f'backbone.blocks.{i}.norm1.weight'] = z(dim)
        sd[f'backbone.blocks.{i}.mlp.fc2.weight'] = z(dim - 2, 4 * dim)
        for j in range(experts):
            sd[f'backbone.blocks.{i}.mlp.experts.{j}.weight'] = z(2, 4 * dim)
    sd.update({'keypoint_head.deconv_layers.0.weight': z(dim, 4, 4, 4), 'keypoint_head.final_layer.weight': z(17, 4)})
    for k in range(extra_heads):
        sd[f'associate_keypoint_heads.{k}.deconv_layers.0.weight'] = z(dim, 4, 4, 4)
    return sd


def mmpose_simple(dim=384, depth=12):
    """mmpose 1.x names: no class row in pos_embed, 14x14 patches, simple decoder (final conv only)."""
    sd = {'backbone.pos_embed': z(1, 192, dim), 'backbone.patch_embed.projection.weight': z(dim, 3, 14, 14),
          'head.final_layer.weight': z(17, dim, 3, 3)}
    for i in range(depth):
        sd[f'backbone.layers.{i}.ln1.weight'] = z(dim)
        sd[f'backbone.layers.{i}.ffn.layers.0.0.weight'] = z(dim)
    return sd


def mae(cls_token=True, prefix=''):
    sd = {f'{prefix}pos_embed': z(1, 197 if cls_token else 196, 16),
          f'{prefix}patch_embed.proj.weight': z(16, 3, 16, 16),
          f'{prefix}blocks.0.norm1.weight': z(16), f'{prefix}blocks.1.norm1.weight': z(16),
          f'{prefix}blocks.2.norm1.weight': z(16)}
    if cls_token:
        sd[f'{prefix}cls_token'] = z(1, 1, 16)
    return sd


def fields(kind: CheckpointKind) -> tuple:
    return (kind.kind, kind.layout, kind.experts, kind.heads, kind.decoder, kind.embed_dim, kind.depth, kind.patch,
            kind.patch_rows, kind.grid)


# ---- what the checkpoint is -----------------------------------------------------------------------------------
def test_vitpose_plus_official_is_read_off_its_keys():
    """Kind, layout, expert and head counts, classic decoder, dims, patch and rows (class row not counted)."""
    kind = describe_checkpoint(vitpose_plus_official())
    assert fields(kind) == ('vitpose+', 'official', 6, 6, 'classic', 8, 2, (16, 16), 192, None)
    text = kind.describe()
    assert text.startswith('a ViTPose+ (multi-dataset) checkpoint in the official layout, ')
    assert 'ViT (embed 8, depth 2, 16x16 patches)' in text
    assert f'6 experts and 6 heads (datasets {SIX})' in text and 'classic decoder' in text
    assert '192 position rows (16x12, 256x192 as released)' in text


def test_experts_or_extra_heads_alone_make_a_vitpose_plus_checkpoint():
    """Three experts and one head name three datasets; extra heads without experts still count as ViTPose+;
    a single expert with no extra head is a plain pose checkpoint."""
    three = describe_checkpoint(vitpose_plus_official(experts=3, extra_heads=0))
    assert fields(three)[:5] == ('vitpose+', 'official', 3, 1, 'classic')
    assert '3 experts and 1 heads (datasets coco, aic, mpii)' in three.describe()
    heads = describe_checkpoint(vitpose_plus_official(experts=0, extra_heads=1))
    assert fields(heads)[:4] == ('vitpose+', 'official', 0, 2)
    assert '0 experts and 2 heads (datasets coco, aic)' in heads.describe()
    one = describe_checkpoint(vitpose_plus_official(experts=1, extra_heads=0))
    assert fields(one)[:4] == ('pose', 'official', 1, 1)
    assert 'experts' not in one.describe() and one.describe().startswith('a pose checkpoint in the official layout')


def test_mmpose_simple_decoder_of_a_released_size():
    """No class row in mmpose's pos_embed (192 rows from 192), the simple decoder, ViT-S named from (384, 12)."""
    kind = describe_checkpoint(mmpose_simple())
    assert fields(kind) == ('pose', 'mmpose', 0, 1, 'simple', 384, 12, (14, 14), 192, None)
    assert kind.size == 'small'
    assert 'ViT-S (embed 384, depth 12, 14x14 patches)' in kind.describe()
    assert 'simple decoder' in kind.describe() and 'experts' not in kind.describe()


def test_hf_names_classic_decoder_and_experts():
    """HF names: encoder.layer.N blocks, position_embeddings with a class row, deconv1 = classic decoder."""
    sd = {'backbone.embeddings.position_embeddings': z(1, 49, 8),
          'backbone.embeddings.patch_embeddings.projection.weight': z(8, 3, 8, 4),
          'head.deconv1.weight': z(8, 4, 4, 4), 'head.conv.weight': z(17, 4, 1, 1)}
    for i in range(3):
        sd[f'backbone.encoder.layer.{i}.layernorm_before.weight'] = z(8)
    assert fields(describe_checkpoint(sd)) == ('pose', 'hf', 0, 1, 'classic', 8, 3, (8, 4), 48, None)
    text = describe_checkpoint(sd).describe()
    assert text.endswith(', 48 position rows') and 'ViT (embed 8, depth 3, 8x4 patches)' in text
    del sd['head.deconv1.weight']
    for j in range(2):
        sd[f'backbone.encoder.layer.0.mlp.experts.{j}.weight'] = z(2, 8)
    assert fields(describe_checkpoint(sd))[:5] == ('vitpose+', 'hf', 2, 1, 'simple')
    assert '2 experts and 1 heads (datasets coco, aic)' in describe_checkpoint(sd).describe()


@pytest.mark.parametrize('cls_token', [True, False])
def test_mae_pretraining_weights(cls_token):
    """MAE names, no pose head: pre-training weights; 14x14 patch rows whether or not a class row is there (197 rows
    with a class token, 196 without)."""
    kind, rows = describe_checkpoint(mae(cls_token)), 196
    assert fields(kind) == ('pretrain', 'mae', 0, 0, None, 16, 3, (16, 16), rows, None)
    text = kind.describe()
    assert text.startswith('pre-training weights (e.g. MAE; no pose head) in the mae layout')
    assert f'{rows} position rows' in text and 'decoder' not in text


def test_pretraining_by_layout_or_by_rows_without_a_pose_head():
    """MAE blocks without position rows are still pre-training weights, and so is an MAE-layout file whose head is
    named like HF's pose head (MAE has no pose head); position rows without a pose head in another layout too."""
    no_rows = describe_checkpoint({'blocks.0.norm1.weight': z(4), 'blocks.1.norm1.weight': z(4)})
    assert fields(no_rows) == ('pretrain', 'mae', 0, 0, None, None, 2, None, None, None)
    conv_head = describe_checkpoint({**mae(), 'head.conv.weight': z(10, 16, 1, 1)})
    assert fields(conv_head) == ('pretrain', 'mae', 0, 0, None, 16, 3, (16, 16), 196, None)
    classifier = describe_checkpoint({'backbone.blocks.0.norm1.weight': z(8), 'backbone.pos_embed': z(1, 193, 8),
                                      'keypoint_head.fc.weight': z(2, 8)})
    assert fields(classifier) == ('pretrain', 'official', 0, 0, None, 8, 1, None, 192, None)


def test_backbone_only_by_prefix_or_by_recorded_meta():
    """All keys under backbone. (what the converter writes for init_cfg), or meta saying so; the grid recorded."""
    prefixed = describe_checkpoint(mae(prefix='backbone.'))
    assert fields(prefixed) == ('backbone', 'mae', 0, 0, None, 16, 3, (16, 16), 196, None)
    assert prefixed.describe().startswith('a backbone-only checkpoint')
    meta = {'vitpose_mm': {'layout': 'mae', 'grid': [16, 12]}}
    recorded = describe_checkpoint(mae(), meta)
    assert fields(recorded) == ('backbone', 'mae', 0, 0, None, 16, 3, (16, 16), 196, (16, 12))
    assert 'position grid 16x12 (recorded)' in recorded.describe() and 'position rows' not in recorded.describe()
    # meta of another package, or not a dict: ignored
    assert describe_checkpoint(mae(), {'vitpose_mm': 'mae'}).kind == 'pretrain'
    assert describe_checkpoint(mae(), ['vitpose_mm']).kind == 'pretrain'
    assert describe_checkpoint(mae(), {'vitpose_mm': {'layout': 'official'}}).kind == 'pretrain'


@pytest.mark.parametrize('key', ['knowledge_token', 'token_proj.weight', 'teacher.backbone.pos_embed'])
def test_distillation_checkpoint(key):
    """A knowledge token, its projection or a teacher.* key: a distillation checkpoint, whatever else it holds."""
    sd = vitpose_plus_official(experts=0, extra_heads=0)
    sd[key] = z(1, 1, 8)
    kind = describe_checkpoint(sd)
    assert kind.kind == 'distill' and kind.describe().startswith('a distillation (KnowledgeTokenDistiller)')


def test_unknown_checkpoints_name_no_layout():
    """Keys of no layout, or a layout without pose head or position rows: unknown, and no layout is claimed."""
    assert fields(describe_checkpoint({'fc.weight': z(2, 2)})) == ('unknown', None, 0, 0, None, None, 0, None, None,
                                                                    None)
    assert describe_checkpoint({'fc.weight': z(2, 2)}).describe() == 'not a ViTPose checkpoint in any known layout'
    sd = {'backbone.blocks.0.norm1.weight': z(8), 'head.fc.weight': z(2, 8), 'backbone.pos_embed': z(193, 8),
          'backbone.patch_embed.proj.weight': z(8, 3, 16)}  # 2-D rows and a 3-D kernel are not read
    kind = describe_checkpoint(sd)
    assert fields(kind) == ('unknown', 'vitpose_mm', 0, 0, None, None, 1, None, None, None)
    assert kind.describe() == 'not a ViTPose checkpoint in any known layout'


def test_position_rows_without_patch_kernel_and_vitpose_mm_layout():
    """vitpose_mm names keep the class row (193 -> 192); no patch kernel: no patch size in the text."""
    sd = {'backbone.pos_embed': z(1, 193, 8), 'backbone.blocks.0.norm1.weight': z(8), 'head.final_layer.weight': z(1)}
    kind = describe_checkpoint(sd)
    assert fields(kind) == ('pose', 'vitpose_mm', 0, 1, 'simple', 8, 1, None, 192, None)
    assert 'ViT (embed 8, depth 1)' in kind.describe()


# ---- the fix for the wrong kind -------------------------------------------------------------------------------
def pose_model(num_expert=1, part_features=0, teacher=False):
    model, backbone = torch.nn.Module(), torch.nn.Module()
    backbone.num_expert, backbone.part_features = num_expert, part_features
    model.backbone = backbone
    if teacher:
        model.teacher = torch.nn.Module()
    return model


def test_fix_for_each_wrong_kind():
    """Distill -> extract the student (unless the model is a distiller); pre-training / backbone-only -> init_cfg;
    unknown -> the converter with --verbose; a right kind -> no fix."""
    distill, plain = CheckpointKind('distill'), pose_model()
    assert ('extract the student first: python tools/extract_student.py w.pth student.pth --config CONFIG'
            in fix_for_kind(distill, 'w.pth', plain, None))
    assert '--config my.py' in fix_for_kind(distill, 'w.pth', plain, 'my.py')
    assert fix_for_kind(distill, 'w.pth', pose_model(teacher=True), None) is None
    for kind, words in (('pretrain', 'converts MAE/timm/mmpretrain names'), ('backbone', 'do not convert it again')):
        fix = fix_for_kind(CheckpointKind(kind), 'w.pth', plain, None)
        assert 'model.backbone.init_cfg=dict(type="ViTPosePretrained", checkpoint="w.pth")' in fix
        assert '--cfg-options model.backbone.init_cfg.checkpoint=w.pth' in fix and words in fix
    assert ('see what it holds: python tools/convert_checkpoint.py w.pth out.pth --config my.py --verbose'
            in fix_for_kind(CheckpointKind('unknown'), 'w.pth', plain, 'my.py'))
    assert fix_for_kind(CheckpointKind('pose', experts=1, heads=1), 'w.pth', plain, None) is None


def test_vitpose_plus_fix_only_when_the_experts_differ():
    """The --dataset conversion when the model has other experts (a plain model has none, whatever num_expert)."""
    plus = CheckpointKind('vitpose+', experts=6, heads=6)
    want = ('keep one dataset: python tools/convert_checkpoint.py w.pth out.pth '
            '--dataset {coco|aic|mpii|ap10k|apt36k|wholebody} --config CONFIG')
    assert want in fix_for_kind(plus, 'w.pth', pose_model(), None)
    assert want in fix_for_kind(plus, 'w.pth', pose_model(num_expert=6, part_features=0), None)
    assert want in fix_for_kind(plus, 'w.pth', pose_model(num_expert=3, part_features=16), None)
    assert want in fix_for_kind(plus, 'w.pth', torch.nn.Linear(1, 1), None)  # no backbone
    assert fix_for_kind(plus, 'w.pth', pose_model(num_expert=6, part_features=16), None) is None
    heads_only = CheckpointKind('vitpose+', experts=0, heads=2)
    assert fix_for_kind(heads_only, 'w.pth', pose_model(), None) is None
    assert fix_for_kind(heads_only, 'w.pth', torch.nn.Linear(1, 1), None) is None  # no backbone: no experts


# ---- the fix for another architecture -------------------------------------------------------------------------
def arch(embed_dim=768, depth=12, num_heads=12, num_keypoints=17, upsample=0, **kw):
    return Arch(embed_dim=embed_dim, depth=depth, patch_size=(16, 16), grid=(16, 12), mlp_ratio=4.0, qkv_bias=True,
                num_heads=num_heads, num_keypoints=num_keypoints, upsample=upsample,
                final_kernel=3 if upsample else 1, deconv_filters=() if upsample else (256, 256),
                deconv_kernels=() if upsample else (4, 4), **kw)


def test_fix_for_another_decoder_size_keypoints_or_experts():
    """In this order: decoder (the matching shipped config), size, keypoint count, experts, else --verbose."""
    simple, classic = arch(upsample=4), arch()
    assert fix_for_arch(simple, classic, 'w.pth', None) == (
        'the checkpoint has the simple decoder and the model the classic one: use the matching config '
        'td-hm_ViTPose-base-simple_8xb64-210e_coco-256x192.py')
    tiny = arch(embed_dim=64, depth=2, num_heads=4)
    fix = fix_for_arch(tiny, arch(embed_dim=64, depth=2, num_heads=4, upsample=4), 'w.pth', None)
    assert 'the model the simple one: use the matching config td-hm_ViTPose-base_8xb64-210e_coco-256x192.py' in fix
    assert fix.endswith(' --cfg-options model.backbone.embed_dim=64 model.backbone.depth=2 '
                        'optim_wrapper.paramwise_cfg.num_layers=2 model.backbone.num_heads=4 model.head.in_channels=64')
    # a backbone-only side: the decoder is not compared, the size is
    large = arch(embed_dim=1024, depth=24, num_heads=16, num_keypoints=None)
    assert fix_for_arch(large, classic, 'w.pth', None) == (
        'the checkpoint is another model size: use td-hm_ViTPose-large_8xb64-210e_coco-256x192.py')
    assert fix_for_arch(tiny, classic, 'w.pth', None) == (
        'the checkpoint is another model size: use td-hm_ViTPose-base_8xb64-210e_coco-256x192.py --cfg-options '
        'model.backbone.embed_dim=64 model.backbone.depth=2 optim_wrapper.paramwise_cfg.num_layers=2 '
        'model.backbone.num_heads=4 model.head.in_channels=64')
    large_simple = arch(embed_dim=1024, depth=24, num_heads=16, upsample=4)
    assert 'use the matching config td-hm_ViTPose-large-simple_8xb64-210e_coco-256x192.py' in fix_for_arch(
        large_simple, arch(embed_dim=1024, depth=24, num_heads=16), 'w.pth', None)
    assert 'another model size' in fix_for_arch(arch(depth=6), classic, 'w.pth', None)
    assert 'another model size' in fix_for_arch(arch(embed_dim=384), classic, 'w.pth', None)
    assert 'another model size' in fix_for_arch(classic, arch(num_keypoints=None, upsample=4, depth=6), 'w.pth', None)
    assert fix_for_arch(arch(num_keypoints=133), classic, 'w.pth', None) == (
        'the checkpoint predicts 133 keypoints and the model 17: set model.head.out_channels=133 (with a dataset '
        'of 133 keypoints)')
    experts = 'the experts differ: set model.backbone.num_expert=6 and model.backbone.part_features=16'
    assert experts in fix_for_arch(arch(num_expert=6, part_features=16), classic, 'w.pth', None)
    assert experts in fix_for_arch(arch(num_expert=6, part_features=16), arch(num_expert=6), 'w.pth', None)
    assert experts in fix_for_arch(arch(num_expert=6, part_features=16), arch(num_expert=3, part_features=16),
                                   'w.pth', None)
    verbose = 'see every key: python tools/convert_checkpoint.py w.pth out.pth --config {} --verbose'
    assert fix_for_arch(arch(num_keypoints=None), classic, 'w.pth', None).startswith(verbose.format('CONFIG'))
    assert fix_for_arch(classic, arch(), 'w.pth', 'my.py') == (
        verbose.format('my.py') + ' (or set VITPOSE_MM_VERBOSE=1)')


# ---- keys, grouped or not -------------------------------------------------------------------------------------
def test_group_keys_by_kind_with_counts_and_real_indices():
    """N for every index that varies, the real indices when one for the whole group, a lone key in full;
    tail=False keeps the parameter name and gives no count. Groups keep the order of first appearance."""
    experts = [f'backbone.blocks.{i}.mlp.experts.{j}.{p}'
               for i in range(2) for j in range(6) for p in ('weight', 'bias')]
    keys = ['knowledge_token', *experts, 'backbone.blocks.1.mlp.experts.3.extra', 'head.final_layer.weight',
            'head.final_layer.bias', 'associate_keypoint_heads.2.final_layer.weight',
            'associate_keypoint_heads.2.final_layer.bias']
    assert group_keys(keys) == ['knowledge_token', 'backbone.blocks.N.mlp.experts.N.* (25)', 'head.final_layer.* (2)',
                                'associate_keypoint_heads.2.final_layer.* (2)']
    assert group_keys(['backbone.blocks.1.mlp.experts.3.weight', 'backbone.blocks.1.mlp.experts.3.bias']) == \
        ['backbone.blocks.1.mlp.experts.3.* (2)']
    assert group_keys(['backbone.layers.0.ln1.weight', 'backbone.layers.1.ln1.weight',
                       'backbone.encoder.layer.4.x.weight'], tail=False) == \
        ['backbone.layers.N.ln1.weight', 'backbone.encoder.layer.4.x.weight']


def test_shape_lines_one_per_kind_with_the_first_blocks_shapes():
    shapes = ['backbone.blocks.0.mlp.fc2.weight: checkpoint (48, 256) vs model (64, 256)',
              'backbone.blocks.1.mlp.fc2.weight: checkpoint (40, 256) vs model (64, 256)',
              'backbone.pos_embed: checkpoint (1, 197, 64) vs model (1, 193, 64)']
    message = mismatch_message('w.pth', 'CK', 'MD', None, shapes=shapes)
    assert ('  3 shape mismatches: backbone.blocks.N.mlp.fc2.weight: checkpoint (48, 256) vs model (64, 256), '
            'backbone.pos_embed: checkpoint (1, 197, 64) vs model (1, 193, 64)') in message.splitlines()


def test_message_lines_and_the_cut_at_twelve_groups(monkeypatch):
    """What, model, problem, fix, then each key list (grouped, at most 12 groups unless verbose)."""
    monkeypatch.delenv('VITPOSE_MM_VERBOSE', raising=False)
    missing = [f'head.part{g}.weight' for g in range(14)]
    surplus = [f'backbone.blocks.{i}.mlp.experts.0.weight' for i in range(3)]
    lines = mismatch_message('w.pth', 'CK', 'MD', 'FIX', missing, surplus, reason='WHY').splitlines()
    assert lines[:5] == ['w.pth does not fit the model; nothing was loaded.', '  checkpoint: CK', '  model:      MD',
                         '  problem:    WHY', '  fix:        FIX']
    assert lines[5] == '  14 missing in the checkpoint: ' + ', '.join(missing[:12]) + ' ... (2 more groups)'
    assert lines[6] == '  3 not in the model: backbone.blocks.N.mlp.experts.N.* (3)'
    assert lines[7] == '  (every key: VITPOSE_MM_VERBOSE=1 or verbose=True)' and len(lines) == 8
    exactly = mismatch_message('w.pth', 'CK', 'MD', None, missing[:12]).splitlines()
    assert exactly[3] == '  12 missing in the checkpoint: ' + ', '.join(missing[:12])
    thirteen = mismatch_message('w.pth', 'CK', 'MD', None, missing[:13]).splitlines()
    assert thirteen[3] == '  13 missing in the checkpoint: ' + ', '.join(missing[:12]) + ' ... (1 more groups)'
    assert mismatch_message('w.pth', 'CK', 'MD', None).splitlines() == lines[:3]
    # the hint to list every key follows any key list: surplus keys only, or shape mismatches only
    assert mismatch_message('w.pth', 'CK', 'MD', None, surplus=surplus).splitlines()[-1] == lines[7]
    assert mismatch_message('w.pth', 'CK', 'MD', None, shapes=['k: checkpoint (1,) vs model (2,)']).splitlines()[
        -1] == lines[7]


@pytest.mark.parametrize('env, verbose, full', [(None, None, False), ('0', None, False), ('', None, False),
                                                ('1', None, True), ('yes', None, True), ('1', False, False),
                                                (None, True, True)])
def test_verbose_lists_every_key(env, verbose, full, monkeypatch):
    """VITPOSE_MM_VERBOSE (anything but empty or 0) or verbose=True list every key; verbose=False wins over it."""
    if env is None:
        monkeypatch.delenv('VITPOSE_MM_VERBOSE', raising=False)
    else:
        monkeypatch.setenv('VITPOSE_MM_VERBOSE', env)
    assert verbose_wanted(verbose) is full
    missing = [f'backbone.blocks.{i}.norm1.weight' for i in range(13)] + [f'head.h{g}.w' for g in range(13)]
    lines = mismatch_message('w.pth', 'CK', 'MD', None, missing, verbose=verbose).splitlines()
    if full:
        assert lines[3] == '  26 missing in the checkpoint: ' + ', '.join(missing) and len(lines) == 4
    else:
        assert lines[3].startswith('  26 missing in the checkpoint: backbone.blocks.N.norm1.* (13), head.h0.w, ')
        assert lines[3].endswith(', head.h10.w ... (2 more groups)') and len(lines) == 5


def test_every_key_logged_at_debug(monkeypatch):
    from mmengine.logging import MMLogger
    logged = []
    monkeypatch.setattr(MMLogger.get_current_instance(), 'debug', logged.append)
    mismatch_message('w.pth', 'CK', 'MD', None, ['a.0.x', 'b'], ['c'], ['d: checkpoint (1,) vs model (2,)'])
    assert logged == ['w.pth: 1 shape mismatches: d: checkpoint (1,) vs model (2,)',
                      'w.pth: 2 missing in the checkpoint: a.0.x, b', 'w.pth: 1 not in the model: c']


def test_describe_model_names_a_pose_model_or_its_class():
    from convert_utils import build_model
    assert describe_model(torch.nn.Linear(1, 1)) == 'Linear'
    assert describe_model(build_model(simple=True)) == (
        'ViT embed 64, depth 2, heads 4, patch 16x16, grid 16x12 (input 256x192); simple decoder (ReLU, bilinear '
        'x4, 3x3 conv), 17 keypoints')
