import importlib.util
import os
import os.path as osp
import sys
from types import ModuleType

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SAMPLES = osp.join(osp.dirname(ROOT), 'shared', 'data', 'pose_samples')


def load_tool(name: str) -> ModuleType:
    """``tools/<name>.py`` as a module, loaded from its file (never through ``sys.path``), to test the command line in
    this process: argparse, exit codes, messages. The logic behind each tool is imported from the package."""
    spec = importlib.util.spec_from_file_location(f'vitpose_tool_{name}', osp.join(ROOT, 'tools', f'{name}.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def samples_dir():
    if not osp.isdir(SAMPLES):
        pytest.skip(f'real pose samples not found at {SAMPLES} (../shared/data/pose_samples)')
    return SAMPLES


# mutmut forks a child per mutant from a process that already ran the tests: a forked child whose parent started
# OpenMP worker threads hangs in its first parallel region, so under mutmut every test runs on one thread.
torch.set_num_threads(1 if 'mutmut' in sys.modules else min(2, os.cpu_count() or 1))


@pytest.fixture
def mmlogger_warnings():
    """The messages of the warnings (and worse) the current MMLogger logs while the test runs."""
    import logging

    from mmengine.logging import MMLogger
    lines = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)
