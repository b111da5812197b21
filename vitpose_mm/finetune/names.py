"""Keypoint names: the side a name says (left/right), its mirror partner, and a normal form to match names across
datasets (``LeftShoulder``, ``l_shoulder`` and ``left_shoulder`` are one keypoint).

A name is split into words at ``_``, ``-``, ``.``, spaces and lower-to-upper case changes (``LeftShoulder`` ->
``Left`` ``Shoulder``). A word ``left``/``right`` or ``l``/``r`` (any case) marks the side; the partner is the same
name with that word swapped, in the same case (``Left`` <-> ``Right``, ``l_`` <-> ``r_``, ``_left`` <-> ``_right``).
This covers the conventions of mmpose's metainfo files (``left_shoulder``), OpenPose/BODY_25 (``LShoulder`` is not
split: ``L`` followed by an upper-case word is, see :data:`_WORDS`), Human3.6M-style ``l_hip`` and
``shoulder_left``.
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple

# words: a run of upper-case letters not followed by a lower-case one (``L`` in ``LShoulder``, ``RHip``), a
# capitalised or lower-case word, or digits
_WORDS = re.compile(r'[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+')
_SEPARATORS = re.compile(r'[_\-.\s]+')
_SIDES = {'left': 'right', 'right': 'left', 'l': 'r', 'r': 'l'}
_LONG = {'l': 'left', 'r': 'right'}


def _spans(name: str) -> List[Tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in _WORDS.finditer(name)]


def words(name: str) -> List[str]:
    """The words of ``name`` (``'LeftShoulder'`` -> ``['Left', 'Shoulder']``)."""
    return [w for _, _, w in _spans(name)]


def normal_name(name: str) -> str:
    """Lower-case words joined by ``_``, with ``l``/``r`` written ``left``/``right``: ``'LShoulder'``,
    ``'l_shoulder'``, ``'Left-Shoulder'`` -> ``'left_shoulder'``."""
    return '_'.join(_LONG.get(w.lower(), w.lower()) for w in words(name))


def side(name: str) -> Optional[str]:
    """``'left'``, ``'right'`` or None (no side word, or words of both sides)."""
    found = {_LONG.get(w.lower(), w.lower()) for w in words(name) if w.lower() in _SIDES}
    return found.pop() if len(found) == 1 else None


def _swap_case(word: str, template: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[0].isupper():
        return word[0].upper() + word[1:]
    return word


def mirror_name(name: str) -> Optional[str]:
    """The name of the mirror keypoint (``'LeftHand'`` -> ``'RightHand'``, ``'l_hip'`` -> ``'r_hip'``,
    ``'LHip'`` -> ``'RHip'``), or None when the name says no side (or both)."""
    if side(name) is None:
        return None
    out, last = [], 0
    for start, end, word in _spans(name):
        out.append(name[last:start])
        low = word.lower()
        out.append(_swap_case(_SIDES[low], word) if low in _SIDES else word)
        last = end
    out.append(name[last:])
    return ''.join(out)


def infer_flip_pairs(names: Sequence[str]) -> Tuple[List[Tuple[str, str]], Dict[str, str]]:
    """Left/right pairs read off the names: ``(pairs, unpaired)``.

    Returns:
        pairs: ``(left name, right name)`` in the order of the left names.
        unpaired: ``{name: the partner it would need}`` for names that say a side whose mirror name is absent.
    """
    present = set(names)
    pairs, unpaired = [], {}
    for name in names:
        mirror = mirror_name(name)
        if mirror is None:
            continue
        if mirror not in present:
            unpaired[name] = mirror
        elif side(name) == 'left':
            pairs.append((name, mirror))
    return pairs, unpaired


def parse_flip_pairs(items: Sequence[str], names: Sequence[str], source: str = '--flip-pairs') -> List[Tuple[str, str]]:
    """``['a:b', ...]`` -> ``[('a', 'b'), ...]`` checked against ``names``.

    Raises:
        ValueError: an item without one ``:``, a name that is not a keypoint, a keypoint in two pairs or paired
            with itself (the message names it).
    """
    known, seen, pairs = set(names), set(), []
    for item in items:
        parts = item.split(':')
        if len(parts) != 2 or not all(parts):
            raise ValueError(f'{source}: {item!r} is not NAME:NAME (e.g. left_eye:right_eye)')
        a, b = parts
        for n in (a, b):
            if n not in known:
                raise ValueError(f'{source}: {n!r} (in {item!r}) is not a keypoint of the category; keypoints: '
                                 f'{list(names)}')
            if n in seen:
                raise ValueError(f'{source}: keypoint {n!r} is in two pairs')
        if a == b:
            raise ValueError(f'{source}: keypoint {a!r} paired with itself')
        seen |= {a, b}
        pairs.append((a, b))
    return pairs


__all__ = ['words', 'normal_name', 'side', 'mirror_name', 'infer_flip_pairs', 'parse_flip_pairs']
