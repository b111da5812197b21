"""Drawn skeletons pixel for pixel: ``draw_people`` and ``draw_predictions`` against the picture the docs promise
(tests/drawn_people.py: links and keypoints of the dataset meta at or above the threshold, radius, width, colours)."""
import cv2
import numpy as np
import pytest
from mmengine.fileio import dump

from conftest import ROOT
from drawn_people import COCO_META, COCO_META_FILE, H, KEYPOINTS, SCORES, W, expected_drawing, scene_person
from vitpose_mm.apis.visualization import build_visualizer, draw_people, draw_predictions


@pytest.mark.parametrize('kpt_thr, radius, thickness, draw_bbox', [(0.3, 3, 2, False), (0.6, 6, 5, True)])
def test_draw_people_draws_what_scores_at_least_the_threshold(kpt_thr, radius, thickness, draw_bbox):
    """Keypoints under ``kpt_thr`` and their links are not drawn (mmpose's visualizer reads ``keypoints_visible``:
    without it every keypoint was drawn); radius, width and colours as given."""
    img = np.zeros((H, W, 3), np.uint8)
    drawn = draw_people(build_visualizer(COCO_META, radius, thickness), img, [scene_person()], kpt_thr, draw_bbox)
    np.testing.assert_array_equal(drawn, expected_drawing(kpt_thr, radius, thickness, draw_bbox))
    assert not img.any()  # a copy is drawn on


def write_predictions(path, img_path, copies=1):
    dump([dict(img_path=str(img_path), pred_instances=dict(keypoints=KEYPOINTS[None], keypoint_scores=SCORES[None]))
          for _ in range(copies)], str(path))


@pytest.mark.parametrize('kpt_thr', [0.3, 0.6])
def test_draw_predictions_draws_radius_3_width_2_from_the_meta_file(tmp_path, kpt_thr):
    """One image, one prediction (a list of one record): the tile is the image with the skeleton of the COCO meta
    file, keypoints of radius 3 and links 2 px wide (the pictures of docs/), threshold as given."""
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((H, W, 3), np.uint8))
    write_predictions(tmp_path / 'pred.pkl', tmp_path / 'a.png')
    out = str(tmp_path / 'out.png')
    assert draw_predictions(str(tmp_path / 'pred.pkl'), out, kpt_thr=kpt_thr, metainfo=COCO_META_FILE) == (1, 1)
    np.testing.assert_array_equal(cv2.imread(out), expected_drawing(kpt_thr, 3, 2))


def test_draw_predictions_default_meta_file_is_cocos_from_the_project_root(tmp_path, monkeypatch):
    """``tools/draw_predictions.py`` run from the project root draws COCO skeletons without ``--metainfo``."""
    cv2.imwrite(str(tmp_path / 'a.png'), np.zeros((H, W, 3), np.uint8))
    write_predictions(tmp_path / 'pred.pkl', tmp_path / 'a.png', copies=2)
    monkeypatch.chdir(ROOT)
    assert draw_predictions(str(tmp_path / 'pred.pkl'), str(tmp_path / 'out.png')) == (2, 1)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / 'out.png')), expected_drawing(0.3, 3, 2))
