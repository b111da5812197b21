"""Every shipped config parses and builds its model; the leaf configs keep the official recipe."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

from conftest import ROOT

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True))
LEAVES = [c for c in CONFIGS if '_base_' not in c]
# Distillation configs need teacher/token checkpoints to build; tests/models/test_distill.py covers them.
# MAE pre-training configs build mmpretrain's MAE, not a pose model: tests/configs/test_mae_configs.py covers them.
# Bottom-up configs build mmpose's BottomupPoseEstimator: tests/bottomup/test_bottomup_configs.py covers them.
PLAIN = [c for c in LEAVES if 'KnowledgeTokenDistiller' not in open(c).read() and
         not osp.basename(c).startswith('mae_') and f'{osp.sep}bottomup{osp.sep}' not in c]


def test_configs_found():
    assert len(LEAVES) >= 9


def _shapes_only(path: str) -> bool:
    """L, H and G: shapes only, no 300M+ random inits; the attention, resolution and partial fine-tuning variants of
    ViTPose-B too (their forward passes are tested on small models in tests/models/test_vit_attention_variants.py;
    the micro demo below is forwarded)."""
    variant = any(f'/{d}/' in path for d in ('attention', 'resolution', 'partial_finetune')) and '/demo/' not in path
    return any(size in path for size in ('large', 'huge', 'giant')) or variant


def _full_size_on_cpu(path: str) -> bool:
    """A ViT-S or ViT-B config built with real weights: 3-12 s of CPU each, so marked slow."""
    return not _shapes_only(path) and '/demo/' not in path and 'pose-samples' not in path


@pytest.mark.parametrize('path', [pytest.param(c, marks=pytest.mark.slow) if _full_size_on_cpu(c) else c
                                  for c in PLAIN], ids=[osp.basename(c) for c in PLAIN])
def test_config_builds(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    big = _shapes_only(path)
    with torch.device('meta' if big else 'cpu'):
        model = MODELS.build(cfg.model)
    multi = type(model).__name__ == 'MultiDatasetTopdownPoseEstimator'
    assert type(model).__name__ == ('MultiDatasetTopdownPoseEstimator' if 'heads' in cfg.model else
                                    'BatchFlipTopdownPoseEstimator')
    heads = dict(model.heads) if multi else dict(head=model.head)
    assert type(model.backbone).__name__ == 'ViT'
    assert all(type(h).__name__ == 'TopdownHeatmapSimpleHead' for h in heads.values())
    if not any(f'/{d}/' in path for d in ('configs/demo', 'distill/demo')):  # older ones lack it
        assert cfg.data_mode == 'topdown'  # mmpose's inferencer reads it
    bb = cfg.model.backbone
    if '256x192' in path:
        assert cfg.optim_wrapper.optimizer.weight_decay == 0.1 and cfg.train_cfg.max_epochs == 210
        assert cfg.optim_wrapper.paramwise_cfg.num_layers == bb.depth
        assert cfg.model.test_cfg.flip_test
    if 'coco-256x192' in path:
        assert cfg.optim_wrapper.optimizer.lr == 5e-4 and cfg.train_dataloader.batch_size == 64
    if 'coco-256x192' in path:  # published sizes (S 24M, B 86M, L 307M, H 632M, plain ViT-g 1.0B; rounded, head or not)
        published = dict(small=24e6, base=86e6, large=307e6, huge=632e6, giant=1.0e9)
        size = next(k for k in published if f'ViTPose-{k}' in path)
        assert sum(p.numel() for p in model.parameters()) == pytest.approx(published[size], rel=0.1)
    if '6datasets' in path:  # the official ViTPose+ configs and the released experts' shapes
        size = next(k for k in ('small', 'base', 'large', 'huge') if f'plus-{k}' in path)
        assert bb.num_expert == 6 and bb.part_features == dict(small=96, base=192, large=256, huge=320)[size]
        assert cfg.optim_wrapper.optimizer.lr == 1e-3 and cfg.train_dataloader.batch_size == 128
        assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == dict(small=0.8, base=0.75, large=0.8,
                                                                        huge=0.8)[size]
        assert model.experts == dict(coco=0, aic=1, mpii=2, ap10k=3, apt36k=4, coco_wholebody=5)
    if multi:  # one head per dataset, with that dataset's keypoints (vitpose_mm.datasets.facts)
        from vitpose_mm.datasets import dataset_facts
        for name, head in heads.items():
            assert head.out_channels == dataset_facts(name).num_keypoints, name
    if not big:  # keep the suite fast: forward the small ones, one head each
        h, w = bb.img_size
        model.eval()
        name, head = next(iter(heads.items()))
        with torch.no_grad():
            out = head(model.extract_feat(torch.randn(1, 3, h, w), torch.zeros(1, dtype=torch.long))) if multi \
                else model(torch.randn(1, 3, h, w), None, mode='tensor')
        assert out.shape == (1, head.out_channels, h // 4, w // 4)


def test_leaf_config_is_at_most_two_files_deep():
    for path in LEAVES:
        text = open(path).read()
        if '_base_' in text:
            for line in text.splitlines():
                if line.startswith('_base_'):
                    base_path = osp.normpath(osp.join(osp.dirname(path), eval(line.split('=', 1)[1])[0]))
                    assert '_base_ =' not in open(base_path).read(), f'{base_path} inherits again'


ATTENTION = sorted(glob.glob(osp.join(ROOT, 'configs', 'attention', '*.py')))
RESOLUTION = sorted(glob.glob(osp.join(ROOT, 'configs', 'resolution', '*.py')))
PARTIAL = sorted(glob.glob(osp.join(ROOT, 'configs', 'partial_finetune', '*.py')))


def test_paper_flexibility_configs_are_all_there():
    """The paper's flexibility tables: seven attention rows, B/L/H at two resolutions, two partial fine-tunings; all top-down."""
    assert len(ATTENTION) == 7 and len(RESOLUTION) == 6 and len(PARTIAL) == 2
    for path in ATTENTION + RESOLUTION + PARTIAL:
        assert Config.fromfile(path).data_mode == 'topdown', path


def test_attention_configs_are_vitpose_b_at_1_8_features():
    rows = {}
    for path in ATTENTION:
        cfg = Config.fromfile(path)
        bb, head = cfg.model.backbone, cfg.model.head
        assert bb.ratio == 2 and bb.embed_dim == 768 and bb.depth == 12 and head.num_deconv_layers == 1
        assert cfg.codec.heatmap_size == (48, 64)
        rows[osp.basename(path).split('ratio2-')[1].split('_')[0]] = (
            bb.get('window_size'), bb.get('shift', False), bb.get('pool', False), tuple(bb.get('global_blocks', ())))
    assert rows == {
        'full': (None, False, False, ()),
        'window8x8': ((8, 8), False, False, ()),
        'window8x8-shift': ((8, 8), True, False, ()),
        'window8x8-pool': ((8, 8), False, True, ()),
        'window8x8-shift-pool': ((8, 8), True, True, ()),
        'full-window8x8': ((8, 8), False, False, (2, 5, 8, 11)),
        'window16x12-shift-pool': ((16, 12), True, True, ()),
    }
    init_default_scope('mmpose')
    with torch.device('meta'):  # shapes only
        model = MODELS.build(Config.fromfile(ATTENTION[0]).model)
    assert model.backbone.patch_shape == (32, 24)


@pytest.mark.parametrize('size', ['384x288', '576x432'])
def test_resolution_configs_scale_heatmaps_and_sigma(size):
    h, w = map(int, size.split('x'))
    for path in [p for p in RESOLUTION if size in p]:
        cfg = Config.fromfile(path)
        assert cfg.model.backbone.img_size == (h, w)
        for codec in (cfg.codec, cfg.model.head.decoder, cfg.train_pipeline[-2].encoder):
            assert codec.input_size == (w, h) and codec.heatmap_size == (w // 4, h // 4)
            assert codec.sigma == 2 * (h // 4) / 64  # 2 at 64x48, as mmpose scales it: 3 at 96x72
        assert cfg.val_dataloader.dataset.pipeline[-2].input_size == (w, h)


def test_partial_finetune_configs_freeze_what_they_say():
    init_default_scope('mmpose')
    for path in PARTIAL:
        cfg = Config.fromfile(path)
        part = 'attn' if 'freeze-attn' in path else 'ffn'
        assert cfg.model.backbone.get(f'freeze_{part}') is True
        bb = cfg.model.backbone
        cfg.model.backbone = dict(bb, depth=2)  # small: what is frozen does not depend on the depth
        backbone = MODELS.build(cfg.model).backbone.train()
        blocks = [(n.split('.')[2], p.requires_grad) for n, p in backbone.named_parameters() if n.startswith('blocks.')]
        frozen = {name for name, grad in blocks if not grad}
        trained = {name for name, grad in blocks if grad}
        assert frozen == ({'attn', 'norm1'} if part == 'attn' else {'mlp', 'norm2'})
        assert trained == ({'mlp', 'norm2'} if part == 'attn' else {'attn', 'norm1'})
        assert backbone.pos_embed.requires_grad == (part == 'attn')


def test_metainfo_files_resolve_from_any_directory():
    """A relative ``from_file='configs/...'`` only works from the repository root, unless mmpose ships a file of that
    name (mmpose falls back to its own ``.mim/configs/_base_/datasets/``); every other one uses ``{{fileDirname}}``."""
    import re

    import mmpose
    mmpose_datasets = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', '_base_', 'datasets')
    relative = []
    for path in CONFIGS:
        for ref in re.findall(r"from_file=['\"]([^'\"]+)['\"]", open(path).read()):
            if not ref.startswith('{{fileDirname}}') and not osp.isfile(osp.join(mmpose_datasets, osp.basename(ref))):
                relative.append(f'{osp.relpath(path, ROOT)}: {ref}')
    assert not relative, relative
