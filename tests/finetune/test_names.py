"""Left/right keypoint names and flip pairs read off them (vitpose_mm.finetune.names)."""
import pytest

from vitpose_mm.finetune.names import infer_flip_pairs, mirror_name, normal_name, parse_flip_pairs, side


@pytest.mark.parametrize('name, mirror', [
    ('left_knee', 'right_knee'), ('right_eye', 'left_eye'), ('l_hip', 'r_hip'), ('R_wrist', 'L_wrist'),
    ('shoulder_left', 'shoulder_right'), ('LeftHand', 'RightHand'), ('LShoulder', 'RShoulder'),
    ('hand_left_thumb1', 'hand_right_thumb1'), ('LEFT_EAR', 'RIGHT_EAR'), ('left-foot', 'right-foot'),
    ('elbowRight', 'elbowLeft')])
def test_mirror_name(name, mirror):
    assert mirror_name(name) == mirror
    assert mirror_name(mirror) == name


@pytest.mark.parametrize('name', ['nose', 'neck', 'lip', 'root_of_tail', 'head_top', 'Lr'])
def test_no_side(name):
    assert side(name) is None and mirror_name(name) is None


def test_normal_name_matches_conventions():
    assert {normal_name(n) for n in ('LeftShoulder', 'l_shoulder', 'LShoulder', 'left-shoulder', 'LEFT_SHOULDER')} \
        == {'left_shoulder'}
    assert normal_name('root_of_tail') == 'root_of_tail'


def test_infer_flip_pairs_on_a_mixed_list():
    names = ['head', 'LeftHand', 'RightHand', 'l_knee', 'r_knee', 'tail', 'ear_left', 'ear_right', 'left_paw']
    pairs, unpaired = infer_flip_pairs(names)
    assert pairs == [('LeftHand', 'RightHand'), ('l_knee', 'r_knee'), ('ear_left', 'ear_right')]
    assert unpaired == {'left_paw': 'right_paw'}


def test_parse_flip_pairs():
    names = ['a', 'b', 'c', 'd']
    assert parse_flip_pairs(['a:b', 'c:d'], names) == [('a', 'b'), ('c', 'd')]
    with pytest.raises(ValueError, match="'x'"):
        parse_flip_pairs(['a:x'], names)
    with pytest.raises(ValueError, match="'a'"):
        parse_flip_pairs(['a:b', 'a:c'], names)
    with pytest.raises(ValueError, match="'ab'"):
        parse_flip_pairs(['ab'], names)
    with pytest.raises(ValueError, match="'c'"):
        parse_flip_pairs(['c:c'], names)
