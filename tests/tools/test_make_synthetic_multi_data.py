"""tools/make_synthetic_multi_data.py: the demo's two datasets, COCO-17 people and fewer AIC-style people."""
import json

import cv2
import numpy as np
import pytest

from conftest import load_tool


def test_writes_coco_and_a_smaller_aic_style_set(tmp_path):
    tool = load_tool('make_synthetic_multi_data')
    assert tool.main([str(tmp_path), '--num-train', '3', '--num-train-aic', '1', '--num-val', '1']) == 0
    coco = json.loads((tmp_path / 'coco' / 'annotations' / 'person_keypoints_train.json').read_text())
    aic = json.loads((tmp_path / 'aic' / 'annotations' / 'aic_train.json').read_text())
    assert len(coco['images']) == 3 and len(aic['images']) == 1
    assert {len(a['keypoints']) for a in aic['annotations']} == {14 * 3}
    assert aic['categories'][0]['keypoints'][12:] == ['head_top', 'neck']
    assert all(a['image_id'] == aic['images'][0]['id'] for a in aic['annotations'])


def test_aic_domain_inverted_changes_the_aic_images_only(tmp_path):
    tool = load_tool('make_synthetic_multi_data')
    args = ['--num-train', '1', '--num-val', '1', '--seed', '4']
    assert tool.main([str(tmp_path / 'same')] + args) == 0
    assert tool.main([str(tmp_path / 'inv')] + args + ['--aic-domain', 'inverted']) == 0

    def read(name: str, part: str) -> np.ndarray:
        return cv2.imread(str(tmp_path / name / part / 'train' / '000001.jpg')).astype(np.int16)

    # COCO untouched, byte for byte; the AIC-style image is 255 - the default one, up to JPEG noise
    coco = 'coco/train/000001.jpg'
    assert (tmp_path / 'same' / coco).read_bytes() == (tmp_path / 'inv' / coco).read_bytes()
    same, inv = read('same', 'aic'), read('inv', 'aic')
    assert same.std() > 15 and np.abs(inv + same - 255).mean() < 3 and np.abs(inv - same).mean() > 50
    for split in ('train', 'val'):  # the same people and labels
        ann = f'aic/annotations/aic_{split}.json'
        assert (tmp_path / 'same' / ann).read_text() == (tmp_path / 'inv' / ann).read_text()
    assert json.loads((tmp_path / 'inv/aic/synthetic_meta.json').read_text())['invert'] is True
    assert 'invert' not in json.loads((tmp_path / 'inv/coco/synthetic_meta.json').read_text())
    with pytest.raises(SystemExit):
        tool.parse_args([str(tmp_path), '--aic-domain', 'negative'])
