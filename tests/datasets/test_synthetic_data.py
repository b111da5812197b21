"""The synthetic COCO person-keypoint dataset: determinism, COCO schema, mmpose loading and evaluation."""
import json
import os.path as osp
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import load_tool
from vitpose_mm.synthetic import generate_synthetic_coco

COCO_NAMES = ['nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder',
              'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee',
              'right_knee', 'left_ankle', 'right_ankle']
W, H = 320, 256
NUM_TRAIN, NUM_VAL = 24, 8


def _load(path) -> dict:
    return json.loads(Path(path).read_text())


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return generate_synthetic_coco(tmp_path_factory.mktemp('synth') / 'a', num_train=NUM_TRAIN, num_val=NUM_VAL,
                                   width=W, height=H, seed=0)


def _files(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob('*')) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(data, tmp_path):
    again = generate_synthetic_coco(tmp_path / 'b', num_train=NUM_TRAIN, num_val=NUM_VAL, width=W, height=H, seed=0)
    first, second = _files(Path(data['root'])), _files(Path(again['root']))
    assert sorted(first) == sorted(second)
    assert len([name for name in first if name.endswith('.jpg')]) == NUM_TRAIN + NUM_VAL
    for name in first:
        assert first[name] == second[name], name
    other = generate_synthetic_coco(tmp_path / 'c', num_train=NUM_TRAIN, num_val=NUM_VAL, width=W, height=H, seed=1)
    other_files = _files(Path(other['root']))
    assert other_files['annotations/person_keypoints_train.json'] != first['annotations/person_keypoints_train.json']
    assert all(other_files[f'train/{i:06d}.jpg'] != first[f'train/{i:06d}.jpg'] for i in range(1, 4))


def test_images_do_not_depend_on_the_split_size(data, tmp_path):
    small = generate_synthetic_coco(tmp_path / 'small', num_train=3, num_val=1, width=W, height=H, seed=0)
    for split, count in (('train', 3), ('val', 1)):
        for i in range(1, count + 1):
            name = f'{i:06d}.jpg'
            assert (Path(small[split]['img_dir']) / name).read_bytes() == \
                (Path(data[split]['img_dir']) / name).read_bytes()


@pytest.mark.parametrize('split', ['train', 'val'])
def test_coco_schema(data, split):
    coco = _load(data[split]['ann_file'])
    assert data[split]['num_images'] == len(coco['images'])
    assert data[split]['num_instances'] == len(coco['annotations'])
    assert len(coco['images']) == (NUM_TRAIN if split == 'train' else NUM_VAL)
    (cat, ) = coco['categories']
    assert (cat['id'], cat['name'], cat['keypoints']) == (1, 'person', COCO_NAMES)
    assert len(cat['skeleton']) == 19 and [16, 14] in cat['skeleton'] and [6, 7] in cat['skeleton']

    images = {img['id']: img for img in coco['images']}
    assert len(images) == len(coco['images'])
    for img in coco['images']:
        assert (img['width'], img['height']) == (W, H)
        pixels = cv2.imread(osp.join(data[split]['img_dir'], img['file_name']))
        assert pixels is not None and pixels.shape == (H, W, 3)
    ids = [ann['id'] for ann in coco['annotations']]
    assert len(set(ids)) == len(ids)
    for ann in coco['annotations']:
        assert set(ann) == {'id', 'image_id', 'category_id', 'keypoints', 'num_keypoints', 'bbox', 'area', 'iscrowd'}
        assert ann['image_id'] in images and ann['category_id'] == 1 and ann['iscrowd'] == 0
        kpts = np.array(ann['keypoints'], float).reshape(17, 3)
        vis = kpts[:, 2]
        assert set(vis) <= {0, 1, 2}
        assert ann['num_keypoints'] == int((vis > 0).sum()) >= 3
        assert np.all(kpts[vis == 0, :2] == 0), 'unlabelled keypoints must be (0, 0, 0)'
        x, y, w, h = ann['bbox']
        assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= W - 1 and y + h <= H - 1
        labelled = kpts[vis > 0, :2]
        assert np.all((labelled >= [x - 1, y - 1]) & (labelled <= [x + w + 1, y + h + 1]))
        assert ann['area'] == w * h


def test_content_has_crowds_occlusion_and_truncation(data):
    coco = _load(data['train']['ann_file'])
    vis = np.array([ann['keypoints'][2::3] for ann in coco['annotations']])
    per_image = np.bincount([ann['image_id'] for ann in coco['annotations']])
    assert per_image.max() >= 3 and len(coco['annotations']) > 1.5 * NUM_TRAIN
    assert 0.5 < (vis == 2).mean() < 0.97  # most keypoints visible,
    assert (vis == 1).sum() > 0 and (vis == 0).sum() > 0  # some covered, some cut off by the border
    heights = np.array([ann['bbox'][3] for ann in coco['annotations']])
    assert heights.min() < 0.35 * H and heights.max() > 0.7 * H


def test_left_limbs_are_warm_and_right_limbs_blue(data):
    """The colour code that makes left/right learnable (and flip augmentation harmful)."""
    coco = _load(data['train']['ann_file'])
    votes = []
    for ann in coco['annotations']:
        img = cv2.imread(osp.join(data['train']['img_dir'], f"{ann['image_id']:06d}.jpg"))
        hue = cv2.cvtColor(img, cv2.COLOR_BGR2HSV_FULL)[..., 0].astype(int) * 360 // 256
        k = np.array(ann['keypoints'], float).reshape(17, 3)
        for shoulder, elbow, warm in ((5, 7, True), (6, 8, False)):
            if k[shoulder, 2] == 2 and k[elbow, 2] == 2:
                x, y = np.round((k[shoulder, :2] + k[elbow, :2]) / 2).astype(int)
                h = hue[y, x]
                votes.append(h <= 50 or h >= 340 if warm else 180 <= h <= 255)
    assert len(votes) > 20 and np.mean(votes) > 0.85


def test_mmpose_coco_dataset_reads_it(data):
    from mmpose.datasets import CocoDataset
    from xtcocotools.coco import COCO

    for split in ('train', 'val'):
        coco = COCO(data[split]['ann_file'])
        assert len(coco.getAnnIds()) == data[split]['num_instances']
        dataset = CocoDataset(ann_file=f'annotations/person_keypoints_{split}.json', data_root=data['root'],
                              data_prefix=dict(img=f'{split}/'), pipeline=[], test_mode=False)
        assert len(dataset) == data[split]['num_instances']
        info = dataset[0]
        assert info['keypoints'].shape == (1, 17, 2) and osp.isfile(info['img_path'])


def test_coco_metric_on_ground_truth_is_perfect(data):
    from mmpose.datasets import CocoDataset
    from mmpose.evaluation import CocoMetric

    dataset = CocoDataset(ann_file='annotations/person_keypoints_val.json', data_root=data['root'],
                          data_prefix=dict(img='val/'), pipeline=[], test_mode=True)
    metric = CocoMetric(ann_file=data['val']['ann_file'])
    metric.dataset_meta = dataset.metainfo
    samples = []
    for i in range(len(dataset)):
        info = dataset[i]
        x0, y0, x1, y1 = info['bbox'][0]
        samples.append(
            dict(id=info['id'], img_id=info['img_id'], category_id=1,
                 pred_instances=dict(keypoints=info['keypoints'], keypoint_scores=np.ones((1, 17), np.float32)),
                 gt_instances=dict(bbox_scales=np.array([[x1 - x0, y1 - y0]]) * 1.25, bbox_scores=np.ones(1))))
    metric.process([], samples)
    results = metric.evaluate(size=len(samples))
    assert results['coco/AP'] == pytest.approx(1.0)
    assert results['coco/AR'] == pytest.approx(1.0)


@pytest.mark.parametrize('kwargs, name', [
    (dict(num_train=-1), 'num_train'),
    (dict(num_val=2.5), 'num_val'),
    (dict(num_train=True), 'num_train'),
    (dict(width=10), 'width'),
    (dict(height='256'), 'height'),
    (dict(seed=-3), 'seed'),
    (dict(overwrite='yes'), 'overwrite'),
    (dict(invert=1), 'invert'),
])
def test_bad_arguments_raise(tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=name):
        generate_synthetic_coco(tmp_path / 'x', **kwargs)
    assert not (tmp_path / 'x').exists()


def test_refuses_foreign_folder_and_replaces_its_own(tmp_path):
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'notes.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='overwrite'):
        generate_synthetic_coco(foreign, num_train=1, num_val=1)
    generate_synthetic_coco(foreign, num_train=1, num_val=1, overwrite=True)
    assert (foreign / 'notes.txt').read_text() == 'keep me'

    ours = tmp_path / 'ours'
    generate_synthetic_coco(ours, num_train=3, num_val=1)
    result = generate_synthetic_coco(ours, num_train=2, num_val=1)  # a second run replaces the first
    assert sorted(p.name for p in (ours / 'train').iterdir()) == ['000001.jpg', '000002.jpg']
    assert _load(result['meta_file'])['complete'] is True


def test_cli(tmp_path, capsys):
    cli = load_tool('make_synthetic_data')
    with pytest.raises(SystemExit) as exc:
        cli.main(['--help'])
    assert exc.value.code == 0 and '--num-train' in capsys.readouterr().out
    assert cli.main([str(tmp_path / 'd'), '--num-train', '2', '--num-val', '1', '--width', '96', '--height', '128',
                     '--seed', '3']) == 0
    out = capsys.readouterr()
    assert out.out.startswith('wrote 2 train images') and '96x128' in out.out and '[train] 2/2' in out.err
    assert cli.main([str(tmp_path / 'e'), '--num-train', '-5']) == 2
    assert 'num_train' in capsys.readouterr().err
