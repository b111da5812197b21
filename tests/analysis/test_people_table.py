"""The bottom-up vs top-down people table of tools/benchmark.py, from known numbers, and its command line."""
import numpy as np
import pytest
import torch

from conftest import load_tool
from vitpose_mm.analysis.benchmark_report import markdown
from vitpose_mm.analysis.people import (IMAGE_HW, bottomup_config, people_bottomup_vs_topdown, people_markdown,
                                        person_boxes)


def rows():
    return [dict(size='tiny', people=n, topdown_ms=10.0 * n, bottomup_ms=12.0, ratio=1.2 / n,
                 topdown_config='td.py', bottomup_config='bu.py') for n in (1, 4, 16)]


def test_markdown_has_the_figures_and_the_verdict_at_the_most_people():
    text = '\n'.join(people_markdown(rows()))
    assert '| tiny | 16 | 160.0 | 12.0 | 0.07 |' in text and '| tiny | 1 | 10.0 | 12.0 | 1.20 |' in text
    assert 'with 16 people bottom-up costs 0.07 of top-down (meets the target <= 0.25)' in text
    slow = rows()
    slow[-1]['ratio'] = 0.3
    assert 'costs 0.30 of top-down (misses' in '\n'.join(people_markdown(slow))
    assert people_markdown([]) == []


def test_the_benchmark_report_carries_the_table():
    results = dict(device='cpu', threads=2, torch='x', batch=8, train_batch=2, reps=3, notes=[],
                   matmul_before={'torch.float32': 1e11}, matmul_after={'torch.float32': 1e11}, inference=[],
                   training=[], people=[], people_bottomup=rows())
    text = markdown(results)
    assert '## People per image: bottom-up vs top-down' in text and '## Inference' not in text


def test_person_boxes_lie_in_the_image():
    boxes = person_boxes(16)
    h, w = IMAGE_HW
    assert boxes.shape == (16, 5) and (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= w).all()
    assert (boxes[:, 3] <= h).all() and (boxes[:, 2] - boxes[:, 0] > 0.1 * w).all()


def test_unknown_size_and_missing_config_are_named():
    with pytest.raises(ValueError, match="'XL'"):
        people_bottomup_vs_topdown(['XL'], [1], 1, torch.device('cpu'))
    with pytest.raises(FileNotFoundError, match='no-such-pattern'):
        bottomup_config('no-such-pattern*.py')


def test_command_line():
    tool = load_tool('benchmark')
    args = tool.parse_args(['--people-only', '--people', '1', '4', '16', '--people-sizes', 'tiny', 'B'])
    assert args.people_only and args.people == [1, 4, 16] and args.people_sizes == ['tiny', 'B']
    with pytest.raises(SystemExit):
        tool.parse_args(['--people-sizes', 'XL'])
    assert np.isfinite(person_boxes(1)).all()
