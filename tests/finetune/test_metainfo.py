"""Metainfo from a COCO keypoint file: names, flip pairs, sigmas, skeleton, and every bad input."""
import json
import os.path as osp

import pytest
from mmpose.datasets.datasets.utils import parse_pose_metainfo

from ft_utils import write_coco
from vitpose_mm.finetune import FinetuneError, build_dataset_info, read_keypoint_annotations, resolve_flip_pairs
from vitpose_mm.finetune.metainfo import DEFAULT_SIGMA, write_dataset_info

NAMES = ['head', 'RightShoulder', 'LeftShoulder', 'l_knee', 'r_knee', 'tail_tip']


def test_metainfo_from_hand_made_category(tmp_path):
    path = write_coco(str(tmp_path), NAMES, skeleton=[[1, 2], [1, 3], [3, 4], [2, 5]])
    ann = read_keypoint_annotations(path, str(tmp_path / 'img'))
    assert (ann.num_images, ann.num_instances, ann.has_area) == (2, 4, True)
    pairs = resolve_flip_pairs(ann)
    assert pairs == [('LeftShoulder', 'RightShoulder'), ('l_knee', 'r_knee')]
    info, notes = build_dataset_info(ann, pairs, 'mine')
    kinfo = info['keypoint_info']
    assert [kinfo[i]['swap'] for i in range(6)] == ['', 'LeftShoulder', 'RightShoulder', 'r_knee', 'l_knee', '']
    assert [kinfo[i]['type'] for i in range(6)] == ['upper', 'upper', 'upper', 'lower', 'lower', 'lower']
    # COCO's sigmas for the names COCO has (shoulders 0.079, knees 0.087), the default for the others
    assert info['sigmas'] == pytest.approx([DEFAULT_SIGMA, .079, .079, .087, .087, DEFAULT_SIGMA])
    assert info['joint_weights'] == pytest.approx([1., 1., 1., 1.2, 1.2, 1.])
    assert any('coco' in n and 'l_knee' in n for n in notes)
    assert any('head' in n and 'tail_tip' in n and 'AP depends' in n for n in notes)
    assert [s['link'] for s in info['skeleton_info'].values()] == [
        ('head', 'RightShoulder'), ('head', 'LeftShoulder'), ('LeftShoulder', 'l_knee'), ('RightShoulder', 'r_knee')]
    assert kinfo[2]['color'] == [0, 255, 0] and kinfo[1]['color'] == [255, 128, 0]
    # mmpose reads the written file: flip indices, upper/lower body, sigmas
    out = str(tmp_path / 'meta.py')
    write_dataset_info(info, out, notes)
    parsed = parse_pose_metainfo(dict(from_file=out))
    assert parsed['flip_indices'] == [0, 2, 1, 4, 3, 5]
    assert parsed['lower_body_ids'] == [3, 4, 5]
    assert parsed['dataset_name'] == 'mine'
    assert parsed['sigmas'][3] == pytest.approx(.087)


def test_sigmas_of_another_known_dataset(tmp_path):
    # CrowdPose's top_head and neck (0.079; before AP-10K's neck, 0.035), AP-10K's root_of_tail, AIC's head_top
    ann = read_keypoint_annotations(write_coco(str(tmp_path), ['top_head', 'neck', 'root_of_tail', 'nose',
                                                               'head_top']))
    info, notes = build_dataset_info(ann, [])
    assert info['sigmas'] == pytest.approx([.079, .079, .035, .026, .01291456])
    assert any('crowdpose' in n and 'top_head' in n for n in notes)
    assert not any('AP depends' in n for n in notes)


def test_given_flip_pairs_replace_the_inferred_ones(tmp_path):
    ann = read_keypoint_annotations(write_coco(str(tmp_path), ['a', 'b', 'left_x', 'right_x']))
    assert resolve_flip_pairs(ann, ['a:b']) == [('a', 'b')]
    with pytest.raises(FinetuneError, match="'zz'"):
        resolve_flip_pairs(ann, ['a:zz'])


# ---- bad input: type and the name at fault ---------------------------------------------------------------------
def test_not_coco_keypoints(tmp_path):
    path = write_coco(str(tmp_path), ['a', 'b'], categories=[dict(id=1, name='person')])
    with pytest.raises(FinetuneError, match=r'categories\[\]\.keypoints') as e:
        read_keypoint_annotations(path)
    assert e.value.file == path


def test_keypoint_list_length(tmp_path):
    path = write_coco(str(tmp_path), ['a', 'b', 'c'])
    with open(path) as f:
        data = json.load(f)
    data['annotations'][2]['keypoints'] = data['annotations'][2]['keypoints'][:6]
    with open(path, 'w') as f:
        json.dump(data, f)
    with pytest.raises(FinetuneError, match=r'annotation 3 \(image 2\).*6 numbers, expected 3 x 3 = 9'):
        read_keypoint_annotations(path)


def test_all_keypoints_invisible(tmp_path):
    path = write_coco(str(tmp_path), ['a', 'b'])
    with open(path) as f:
        data = json.load(f)
    for ann in data['annotations']:
        ann['keypoints'] = [0] * 6
    with open(path, 'w') as f:
        json.dump(data, f)
    with pytest.raises(FinetuneError, match='no annotation has a labelled keypoint'):
        read_keypoint_annotations(path)


def test_missing_images(tmp_path):
    path = write_coco(str(tmp_path), ['a', 'b'], num_images=3)
    (tmp_path / 'img' / '001.jpg').unlink()
    with pytest.raises(FinetuneError, match="001.jpg") as e:
        read_keypoint_annotations(path, str(tmp_path / 'img'))
    assert '1 of 3 images' in str(e.value)


@pytest.mark.parametrize('names, bad', [(['a', 'b', 'a'], "'a'"), (['a', '', 'c'], 'keypoints\\[1\\]')])
def test_duplicate_or_empty_names(tmp_path, names, bad):
    with pytest.raises(FinetuneError, match=bad):
        read_keypoint_annotations(write_coco(str(tmp_path), names))


def test_skeleton_outside_the_keypoints(tmp_path):
    with pytest.raises(FinetuneError, match=r'skeleton\[1\]'):
        read_keypoint_annotations(write_coco(str(tmp_path), ['a', 'b'], skeleton=[[1, 2], [2, 3]]))


def test_partner_missing(tmp_path, mmlogger_warnings):
    ann = read_keypoint_annotations(write_coco(str(tmp_path), ['nose', 'left_paw', 'LeftEar', 'RightEar']))
    with pytest.raises(FinetuneError, match="'left_paw'.*'right_paw'") as e:
        resolve_flip_pairs(ann)
    assert e.value.record == "keypoint 'left_paw'"
    # --no-flip: unpaired, said in the log
    assert resolve_flip_pairs(ann, no_flip=True) == [('LeftEar', 'RightEar')]
    assert any('left_paw' in line for line in mmlogger_warnings)


def test_unreadable_file(tmp_path):
    bad = tmp_path / 'x.json'
    bad.write_text('{not json')
    with pytest.raises(FinetuneError, match='x.json'):
        read_keypoint_annotations(str(bad))
    with pytest.raises(FinetuneError, match='nope.json'):
        read_keypoint_annotations(osp.join(str(tmp_path), 'nope.json'))
