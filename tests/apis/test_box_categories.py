"""Box files that say what they keep: the categories of ``BoxFile`` and the demo (``--bbox-cat-ids``, the pose config's
default), every dropped record counted (category, score, degenerate size, NMS), and the right noun for animals.
An AP-10K-style detection file of two species, made by hand."""
import json

import cv2
import numpy as np
import pytest
from mmengine.config import ConfigDict

from conftest import load_tool
from test_demo_runner import COCO_META, ScriptedEstimator, black
from vitpose_mm.apis import BoxFile, demo_runner
from vitpose_mm.apis.demo_runner import DemoOptions, run_images, summary_line
from vitpose_mm.datasets.facts import instance_noun

ANTELOPE, ARGALI, BISON = 1, 2, 3  # AP-10K category ids


def _dets(tmp_path):
    """Image 7: an antelope, two argali sheep (one of score 0.1), a bison with a zero-width box; image 8: an argali."""
    dets = [dict(image_id=7, category_id=ANTELOPE, bbox=[10, 10, 40, 30], score=0.9),
            dict(image_id=7, category_id=ARGALI, bbox=[60, 10, 30, 40], score=0.8),
            dict(image_id=7, category_id=ARGALI, bbox=[5, 50, 20, 20], score=0.1),
            dict(image_id=7, category_id=BISON, bbox=[70, 60, 0, 20], score=0.7),
            dict(image_id=8, category_id=ARGALI, bbox=[20, 20, 30, 30], score=0.95)]
    path = tmp_path / 'ap10k_dets.json'
    path.write_text(json.dumps(dets))
    return str(path)


def test_box_file_keeps_the_categories_asked_and_counts_the_others(tmp_path):
    path = _dets(tmp_path)
    person = BoxFile(path)  # default: category 1 only, as mmpose keeps of a bbox_file
    assert len(person['000000000007.png']) == 1 and len(person['000000000008.png']) == 0
    assert (person.counts.total, person.counts.other_category) == (5, 4)
    assert person.num_other_category('000000000007.png') == 3 and person.num_other_category('8.png') == 1
    every = BoxFile(path, cat_ids=None)
    assert len(every['000000000007.png']) == 4 and every.counts.other_category == 0
    np.testing.assert_allclose(every['000000000008.png'], [[20, 20, 50, 50, 0.95]])
    sheep = BoxFile(path, cat_ids=[ARGALI, BISON])
    assert len(sheep['000000000007.png']) == 3 and sheep.counts.describe() == 'kept 4 of 5 boxes: 1 of other categories'
    assert len(BoxFile(path, cat_ids='all')['000000000007.png']) == 4


@pytest.mark.parametrize('bad', [[], ['dog'], 'dog'])
def test_bad_category_option_is_named(tmp_path, bad):
    with pytest.raises(ValueError, match='bbox_cat_ids'):
        BoxFile(_dets(tmp_path), cat_ids=bad)


def _images(tmp_path):
    names = ['000000000007.png', '000000000008.png']
    for name in names:
        cv2.imwrite(str(tmp_path / name), black())
    return [str(tmp_path / n) for n in names]


def test_demo_counts_every_dropped_box_by_reason(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(demo_runner, 'print_log', lambda msg, *a, **k: logged.append(msg))
    paths = _images(tmp_path)
    summary = run_images(paths, ScriptedEstimator(), DemoOptions(out_dir=str(tmp_path / 'o')),
                         BoxFile(_dets(tmp_path), cat_ids=None))
    assert summary['people'] == 3  # antelope and argali in image 7, argali in image 8
    counts = summary['boxes']
    assert (counts.total, counts.below_score, counts.degenerate, counts.other_category, counts.kept) == (5, 1, 1, 0, 3)
    assert counts.describe() == 'kept 3 of 5 boxes: 1 below score 0.3, 1 degenerate'
    assert any('kept 3 of 5 boxes: 1 below score 0.3, 1 degenerate' in m for m in logged)

    summary = run_images(paths, ScriptedEstimator(), DemoOptions(out_dir=str(tmp_path / 'p')), BoxFile(_dets(tmp_path)))
    assert summary['people'] == 1
    assert summary['boxes'].describe() == 'kept 1 of 5 boxes: 4 of other categories'


def test_overlapping_boxes_suppressed_by_nms_are_counted(tmp_path):
    path = tmp_path / 'd.json'
    path.write_text(json.dumps([dict(image_id=7, category_id=1, bbox=[10, 10, 40, 30], score=0.9),
                                dict(image_id=7, category_id=1, bbox=[11, 10, 40, 30], score=0.8)]))
    summary = run_images(_images(tmp_path)[:1], ScriptedEstimator(), DemoOptions(out_dir=str(tmp_path / 'o')),
                         BoxFile(str(path)))
    assert summary['boxes'].describe() == 'kept 1 of 2 boxes: 1 suppressed by NMS'


def test_animals_are_not_called_people():
    assert instance_noun('ap10k') == 'animals' and instance_noun('apt36k') == 'animals'
    assert instance_noun('coco') == 'people' and instance_noun('coco_wholebody') == 'people'
    assert instance_noun('my_robot_arms') == 'instances'
    line = summary_line(dict(images=1, skipped=[], people=2, noun='animals', outputs=['o'], dropped_boxes=0,
                             seconds=0.1))
    assert '1 images (0 unreadable, skipped), 2 animals,' in line and 'people' not in line


class _Animal(ScriptedEstimator):
    def __init__(self, bbox_cat_ids):
        super().__init__()
        dataset = dict(type='BoxFileAP10KDataset') if bbox_cat_ids == 'absent' else \
            dict(type='BoxFileAP10KDataset', bbox_cat_ids=bbox_cat_ids)
        self.pose_model.cfg = ConfigDict(test_dataloader=dict(dataset=dataset))
        self.pose_model.dataset_meta = dict(COCO_META, dataset_name='ap10k')


@pytest.mark.parametrize('in_config, given, kept', [(None, 'config', 3), ('absent', 'config', 1), (None, [1], 1),
                                                    ([2], None, 3)])
def test_demo_takes_the_categories_of_the_pose_config_unless_given(tmp_path, monkeypatch, in_config, given, kept):
    """The animal configs say bbox_cat_ids=None: the demo keeps every species of a box file, and names them
    animals; a config without the key keeps category 1; --bbox-cat-ids overrides the config."""
    monkeypatch.setattr(demo_runner.PoseEstimator, 'from_config',
                        classmethod(lambda cls, *a, **k: _Animal(in_config)))
    monkeypatch.setattr(demo_runner, 'refuse_boxes_for_bottomup', lambda *a, **k: None)  # no config file to read
    folder = tmp_path / 'imgs'
    folder.mkdir()
    _images(folder)
    summary = demo_runner.run_demo(str(folder), 'ap10k.py', __file__, bbox_file=_dets(tmp_path),
                                   options=DemoOptions(out_dir=str(tmp_path / 'o')), bbox_cat_ids=given)
    assert summary['people'] == kept and summary['noun'] == 'animals'
    assert f'{kept} animals' in summary_line(summary)


def test_demo_command_line_takes_category_ids_or_all():
    parse_args = load_tool('demo').parse_args
    base = ['x.jpg', '--pose-config', 'c.py', '--pose-checkpoint', 'p.pth', '--bbox-file', 'b.json']
    assert parse_args(base).bbox_cat_ids == 'config'
    assert parse_args(base + ['--bbox-cat-ids', 'all']).bbox_cat_ids is None
    assert parse_args(base + ['--bbox-cat-ids', '1', '26']).bbox_cat_ids == [1, 26]
    for bad in (['--bbox-cat-ids', 'dog'], ):
        with pytest.raises(SystemExit):
            parse_args(base + bad)
    with pytest.raises(SystemExit):
        parse_args(base[:5] + ['--bbox-cat-ids', '1'])  # without --bbox-file



def test_demo_tells_an_image_filtered_by_category_from_an_image_absent_from_the_box_file(tmp_path, monkeypatch):
    """Image 8 has one box, an argali: keeping category 7 only leaves it without boxes because of the filter, not
    because the file lacks it; image 9 is not in the file at all."""
    logged = []
    monkeypatch.setattr(demo_runner, 'print_log', lambda msg, *a, **k: logged.append(msg))
    paths = _images(tmp_path)
    cv2.imwrite(str(tmp_path / '000000000009.png'), black())
    run_images(paths + [str(tmp_path / '000000000009.png')], ScriptedEstimator(),
               DemoOptions(out_dir=str(tmp_path / 'o')), BoxFile(_dets(tmp_path), cat_ids=[7]))
    filtered = [m for m in logged if 'only of categories not kept' in m]
    absent = [m for m in logged if 'no entry' in m]
    assert len(filtered) == 1 and filtered[0].startswith('2 image(s)') and 'category 7' in filtered[0]
    assert len(absent) == 1 and absent[0].startswith('1 image(s)')
