import os
import os.path as osp

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SAMPLES = osp.join(osp.dirname(ROOT), 'shared', 'data', 'pose_samples')


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def samples_dir():
    if not osp.isdir(SAMPLES):
        pytest.skip(f'real pose samples not found at {SAMPLES} (../shared/data/pose_samples)')
    return SAMPLES


torch.set_num_threads(min(2, os.cpu_count() or 1))
