"""tools/finetune.py end to end on a tiny custom dataset (9 upper-body keypoints) from a random-weight demo-sized
checkpoint, the written files through tools/test.py, the work-dir rules and the refused starting models."""
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import MODELS

from conftest import ROOT, load_tool
from random_weights import randomize_
from test_weights import COCO
from vitpose_mm.finetune import FinetuneArgs, FinetuneError, finetune
from vitpose_mm.finetune.synthetic import UPPER_BODY_KEYPOINTS, relabel_coco_to_upper_body
from vitpose_mm.datasets.facts import metainfo_file

DEMO = osp.join(ROOT, 'configs', 'demo', 'td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96.py')
FAST = {'train_dataloader.batch_size': 4, 'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False, 'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False, 'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False, 'default_hooks.logger.interval': 1}


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    from vitpose_mm.synthetic import generate_synthetic_coco
    root = tmp_path_factory.mktemp('upper')
    result = generate_synthetic_coco(str(root), num_train=3, num_val=2, width=128, height=96, seed=5)
    paths = {}
    for split in ('train', 'val'):
        with open(result[split]['ann_file']) as f:
            upper = relabel_coco_to_upper_body(json.load(f))
        paths[split] = (str(root / f'upper_{split}.json'), result[split]['img_dir'])
        with open(paths[split][0], 'w') as f:
            json.dump(upper, f)
    return paths


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """The demo config's model with random weights, saved as the runner saves (COCO's dataset_meta)."""
    init_default_scope('mmpose')
    model = randomize_(MODELS.build(Config.fromfile(DEMO).model), seed=3)
    path = str(tmp_path_factory.mktemp('ckpt') / 'demo_random.pth')
    meta = dict(dataset_meta=parse_pose_metainfo(dict(from_file=metainfo_file('coco'))))
    torch.save(dict(meta=meta, state_dict=model.state_dict()), path)
    return path


def _args(data, work, **kw):
    return FinetuneArgs(*data['train'], DEMO, str(work), val_ann=data['val'][0], val_img_dir=data['val'][1], **kw)


@pytest.mark.slow
def test_finetune_writes_trains_and_tests(data, checkpoint, tmp_path):
    work = tmp_path / 'run'
    tool = load_tool('finetune')
    argv = [*data['train'], '--from', DEMO, '--checkpoint', checkpoint, '--val-ann', data['val'][0],
            '--val-img-dir', data['val'][1], '--work-dir', str(work), '--epochs', '1', '--cfg-options',
            *[f'{k}={v}' for k, v in FAST.items()]]
    assert tool.main(argv) == 0
    cfg_path = work / 'finetune_custom.py'
    cfg = Config.fromfile(str(cfg_path))
    assert cfg.model.head.out_channels == 9
    assert cfg.train_dataloader.dataset.metainfo.from_file == str(work / 'custom_metainfo.py')
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.75
    meta = parse_pose_metainfo(dict(from_file=str(work / 'custom_metainfo.py')))
    assert [meta['keypoint_id2name'][i] for i in range(9)] == list(UPPER_BODY_KEYPOINTS)
    assert meta['flip_indices'] == [0, 1, 5, 6, 7, 2, 3, 4, 8]
    # initial weights: backbone as the checkpoint, RightShoulder's channel = COCO's right_shoulder
    src = torch.load(checkpoint, weights_only=False)['state_dict']
    init = torch.load(str(work / 'init_weights.pth'), weights_only=False)['state_dict']
    assert torch.equal(init['backbone.blocks.3.attn.qkv.weight'], src['backbone.blocks.3.attn.qkv.weight'])
    assert torch.equal(init['head.final_layer.weight'][2], src['head.final_layer.weight'][COCO.index('right_shoulder')])
    assert osp.isfile(work / 'epoch_1.pth')
    # the written config as it is, through tools/test.py
    test = load_tool('test')
    test.main([str(cfg_path), str(work / 'epoch_1.pth'), '--work-dir', str(tmp_path / 'test')])
    metrics = json.load(open(tmp_path / 'test' / 'metrics.json'))
    assert 0 <= metrics['coco/AP'] <= 1
    # the same run again: refused unless --resume; another run: refused
    with pytest.raises(FinetuneError, match='--resume'):
        finetune(_args(data, work, checkpoint=checkpoint, epochs=1, cfg_options=FAST), train=False)
    with pytest.raises(FinetuneError, match="epochs"):
        finetune(_args(data, work, checkpoint=checkpoint, epochs=2, cfg_options=FAST), train=False)
    assert tool.main(argv + ['--resume']) == 0  # resumes at the end of epoch 1: nothing left to train


def test_new_files_only_after_every_check(data, checkpoint, tmp_path):
    work = tmp_path / 'run'
    path = finetune(_args(data, work, checkpoint=checkpoint, epochs=1), train=False)
    assert sorted(p.name for p in work.iterdir()) == ['custom_metainfo.py', 'finetune_custom.py', 'finetune_run.json',
                                                       'init_weights.pth']
    assert path == str(work / 'finetune_custom.py')
    other = tmp_path / 'other'
    other.mkdir()
    (other / 'epoch_3.pth').write_bytes(b'')
    with pytest.raises(FinetuneError, match='--work-dir'):
        finetune(_args(data, other, checkpoint=checkpoint), train=False)
    with pytest.raises(FinetuneError, match='--resume'):
        finetune(_args(data, tmp_path / 'new', checkpoint=checkpoint, resume=True), train=False)


def _start_config(tmp_path, body: str) -> str:
    path = tmp_path / 'start.py'
    path.write_text(f'_base_ = [{DEMO!r}]\n{body}\n')
    return str(path)


@pytest.mark.parametrize('body, at_fault', [
    ("model = dict(backbone=dict(_delete_=True, type='ResNet', depth=18))", 'model.backbone.type'),
    ("model = dict(backbone=dict(img_size=(120, 96)))", 'model.backbone.img_size'),
    ("model = dict(type='BottomupPoseEstimator')", 'model.type'),
])
def test_refused_starting_models(data, tmp_path, body, at_fault):
    start = _start_config(tmp_path, body)
    args = FinetuneArgs(*data['train'], start, str(tmp_path / 'run'))
    with pytest.raises(FinetuneError, match=at_fault.replace('.', r'\.')) as e:
        finetune(args, train=False)
    assert e.value.file == start
    assert not osp.exists(tmp_path / 'run')


def test_checkpoint_of_another_architecture(data, tmp_path):
    init_default_scope('mmpose')
    cfg = Config.fromfile(DEMO)
    cfg.model.backbone.update(embed_dim=64, depth=2, num_heads=4)
    cfg.model.head.in_channels = 64
    ckpt = str(tmp_path / 'small.pth')
    torch.save(dict(state_dict=MODELS.build(cfg.model).state_dict()), ckpt)
    with pytest.raises(FinetuneError, match='--checkpoint') as e:
        finetune(_args(data, tmp_path / 'run', checkpoint=ckpt), train=False)
    assert e.value.file == ckpt
    assert not osp.exists(tmp_path / 'run')


def test_val_keypoints_must_match(data, tmp_path):
    from ft_utils import write_coco
    other = write_coco(str(tmp_path), ['a', 'b'])
    args = FinetuneArgs(*data['train'], DEMO, str(tmp_path / 'run'), val_ann=other, val_img_dir=str(tmp_path / 'img'))
    with pytest.raises(FinetuneError, match='differ') as e:
        finetune(args, train=False)
    assert e.value.file == other


def test_tool_exit_code_and_message(data, tmp_path, capsys):
    from ft_utils import write_coco
    bad = write_coco(str(tmp_path), ['a', 'b'], categories=[dict(id=1, name='x')])
    tool = load_tool('finetune')
    assert tool.main([bad, str(tmp_path / 'img'), '--from', DEMO, '--work-dir', str(tmp_path / 'run')]) == 2
    err = capsys.readouterr().err
    assert 'categories[].keypoints' in err and bad in err
