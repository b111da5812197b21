"""Bad data in a real-format dataset: training and evaluation go on, and what was skipped is counted per reason,
logged and written into the metrics record (vitpose_mm.datasets.CheckedDataset, DataQualityHook). The bad files are
made on the fly from the synthetic dataset."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS

from tiny_train import DEMO_CFG, run_train
from vitpose_mm.synthetic import generate_synthetic_coco

PIPELINE = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
            dict(type='TopdownAffine', input_size=(96, 128), use_udp=True), dict(type='PackPoseInputs')]


def _spoil(root: str, split: str) -> dict:
    """Break a synthetic split in every way the issue lists; returns what each image became."""
    ann_file = osp.join(root, 'annotations', f'person_keypoints_{split}.json')
    coco = json.load(open(ann_file))
    imgs = coco['images']
    path = lambda i: osp.join(root, split, imgs[i]['file_name'])  # noqa: E731
    what = {}
    os.remove(path(0))
    what['missing'] = imgs[0]['id']
    with open(path(1), 'r+b') as f:  # truncated to its header: cannot be decoded
        f.truncate(64)
    what['corrupt'] = imgs[1]['id']
    if len(imgs) > 2:  # grey, 16-bit and RGBA contents (read by content, whatever the extension)
        img = cv2.imread(path(2))
        grey, deep = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), img.astype(np.uint16) * 257
        cv2.imwrite(path(2) + '.png', grey)
        os.replace(path(2) + '.png', path(2))
        if len(imgs) > 3:
            cv2.imwrite(path(3) + '.png', deep)
            os.replace(path(3) + '.png', path(3))
        if len(imgs) > 4:
            rgba = cv2.cvtColor(cv2.imread(path(4)), cv2.COLOR_BGR2BGRA)
            rgba[..., 3] = 128
            cv2.imwrite(path(4) + '.png', rgba)
            os.replace(path(4) + '.png', path(4))
    anns = coco['annotations']
    good = [a for a in anns if a['image_id'] not in (what['missing'], what['corrupt'])]
    base = dict(good[0])
    extra = []
    for i, change in enumerate([dict(image_id=987654), dict(bbox=[10, 10, 0, 30]),
                                dict(keypoints=[0] * 51, num_keypoints=0), dict(iscrowd=1)]):
        extra.append({**base, **change, 'id': 900000 + i})
    outside = dict(base, id=900010, keypoints=list(base['keypoints']))
    outside['keypoints'][0:3] = [-5.0, 4.0, 2]
    coco['annotations'] = anns + extra + [outside]
    json.dump(coco, open(ann_file, 'w'))
    return what


def _dataset(root, split, test_mode, check_images=None):
    init_default_scope('mmpose')
    return DATASETS.build(dict(type='CheckedDataset', check_images=check_images, dataset=dict(
        type='CocoDataset', data_root=root, data_mode='topdown', ann_file=f'annotations/person_keypoints_{split}.json',
        data_prefix=dict(img=f'{split}/'), test_mode=test_mode, pipeline=PIPELINE)))


def test_bad_samples_are_skipped_and_counted(tmp_path):
    data = generate_synthetic_coco(tmp_path / 's', num_train=5, num_val=0, seed=7)
    _spoil(data['root'], 'train')
    ds = _dataset(data['root'], 'train', test_mode=False)
    ds.full_init()
    counts = ds.skipped
    for reason in ('annotation without its image', 'zero-area or negative box', 'no visible keypoint',
                   'crowd annotation', 'keypoints outside the image', 'image file missing'):
        assert counts.get(reason, 0) >= 1, (reason, counts)
    assert counts['annotation without its image'] == 1 and counts['crowd annotation'] == 1
    # the truncated image passes the existence check and fails when loaded: replaced by another sample, counted
    paths = [ds.get_data_info(i)['img_path'] for i in range(len(ds))]
    corrupt = next(i for i, p in enumerate(paths) if os.path.getsize(p) == 64)
    item = ds[corrupt]
    assert item['inputs'].shape == (3, 128, 96) and ds.skipped['unreadable image'] == 1
    # grey, 16-bit and RGBA images come out as 8-bit, 3-channel crops
    for i in range(len(ds)):
        if os.path.getsize(paths[i]) != 64:
            x = ds[i]['inputs']
            assert x.shape == (3, 128, 96) and x.dtype.is_floating_point is False


def test_evaluation_set_is_checked_by_decoding(tmp_path):
    data = generate_synthetic_coco(tmp_path / 's', num_train=0, num_val=4, seed=8)
    _spoil(data['root'], 'val')
    ds = _dataset(data['root'], 'val', test_mode=True)
    ds.full_init()
    assert ds.skipped['image file missing'] >= 1 and ds.skipped['unreadable image'] >= 1
    assert all(os.path.getsize(ds.get_data_info(i)['img_path']) > 64 for i in range(len(ds)))


def test_a_dataset_with_nothing_usable_stops_with_the_counts(tmp_path):
    data = generate_synthetic_coco(tmp_path / 's', num_train=2, num_val=0, seed=9)
    for name in os.listdir(osp.join(data['root'], 'train')):
        os.remove(osp.join(data['root'], 'train', name))
    ds = _dataset(data['root'], 'train', test_mode=False)
    with pytest.raises(ValueError, match='image file missing'):
        ds.full_init()


@pytest.mark.slow
def test_training_and_evaluation_go_on_and_report(tmp_path):
    data = generate_synthetic_coco(tmp_path / 's', num_train=5, num_val=4, seed=10)
    _spoil(data['root'], 'train')
    spoilt = _spoil(data['root'], 'val')
    val_anns = json.load(open(osp.join(data['root'], 'annotations', 'person_keypoints_val.json')))['annotations']
    per_image = {k: sum(a['image_id'] == spoilt[k] for a in val_anns) for k in ('missing', 'corrupt')}
    root = data['root'] + '/'
    work = tmp_path / 'work'
    work.mkdir()
    cfg = work / 'cfg.py'
    cfg.write_text(f"""_base_ = [{DEMO_CFG!r}]
model = dict(backbone=dict(embed_dim=64, depth=2, num_heads=4), head=dict(in_channels=64))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=2))
train_cfg = dict(max_epochs=1, val_interval=1)
custom_hooks = [dict(type='DataQualityHook')]
train_dataloader = dict(batch_size=4, num_workers=1, dataset=dict(_delete_=True, type='CheckedDataset',
    dataset=dict(type='CocoDataset', data_root={root!r}, data_mode='topdown',
                 ann_file='annotations/person_keypoints_train.json', data_prefix=dict(img='train/'),
                 pipeline={{{{_base_.train_pipeline}}}})))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(_delete_=True, type='CheckedDataset',
    dataset=dict(type='CocoDataset', data_root={root!r}, data_mode='topdown', test_mode=True,
                 ann_file='annotations/person_keypoints_val.json', data_prefix=dict(img='val/'),
                 pipeline={{{{_base_.val_pipeline}}}})))
val_evaluator = dict(ann_file={root + 'annotations/person_keypoints_val.json'!r})
""")
    proc = run_train(str(cfg), work, [], validate=True)
    log = proc.stdout + proc.stderr
    assert 'skipped' in log and 'image file missing' in log
    scalars = [json.loads(line) for line in open(next(work.glob('*/vis_data/scalars.json')))]
    final = scalars[-1]
    assert 'coco/AP' in final
    # evaluation: every person of the two spoilt images (the metric still counts them: they lower the recall)
    assert final['data/val_skipped/image file missing'] == per_image['missing'] >= 1
    assert final['data/val_skipped/unreadable image'] == per_image['corrupt'] >= 1
    assert final['data/val_skipped/annotation without its image'] == 1
    assert final['data/train_skipped/image file missing'] >= 1 and final['data/train_skipped/crowd annotation'] == 1
