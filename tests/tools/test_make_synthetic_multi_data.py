"""tools/make_synthetic_multi_data.py: the demo's two datasets, COCO-17 people and fewer AIC-style people."""
import json

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
