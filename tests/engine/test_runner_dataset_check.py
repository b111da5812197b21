"""The runner's checkpoint loading (load_from / --checkpoint / tools/test.py) checks the checkpoint's keypoints against
the config's dataset: refused when testing or validating, a warning when training (fine-tuning on another dataset)."""
import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import BaseLoop
from mmpose.datasets.datasets.utils import parse_pose_metainfo

from conftest import ROOT
from multi_dataset_utils import plain_model
from random_weights import randomize_
from vitpose_mm.checkpoints import CheckpointMismatchError
from vitpose_mm.checkpoints.multi_dataset import save_exported
from vitpose_mm.datasets import metainfo_file
from vitpose_mm.engine.runner import CheckpointMixin


class _Loop(BaseLoop):
    def run(self):
        pass


class _Runner(CheckpointMixin):
    """What CheckpointMixin.load_checkpoint reads of mmengine's Runner: cfg, model, logger and the built loops
    (train() builds its train loop before loading, test() its test loop, val() its val loop)."""

    def __init__(self, cfg: Config, mode: str):
        self.cfg, self.model, self.logger = cfg, plain_model(17), MMLogger.get_current_instance()
        self._train_loop = _Loop(self, []) if mode == 'train' else cfg.get('train_cfg')
        self._test_loop = _Loop(self, []) if mode == 'test' else cfg.get('test_cfg')


def _config(**options) -> Config:
    """A COCO config as the runner sees it (train and test datasets; a CombinedDataset's metainfo from a file)."""
    coco = dict(type='CombinedDataset', metainfo=dict(from_file=f'{ROOT}/configs/_base_/datasets/coco.py'),
                datasets=[])
    return Config(dict(train_dataloader=dict(dataset=coco), test_dataloader=dict(dataset=dict(type='CocoDataset')),
                       val_dataloader=dict(dataset=dict(type='CocoDataset')), train_cfg=dict(), test_cfg=dict(),
                       **options))


@pytest.fixture
def ap10k_checkpoint(tmp_path):
    path = str(tmp_path / 'ap10k.pth')
    meta = parse_pose_metainfo(dict(from_file=metainfo_file('ap10k')))
    save_exported(path, randomize_(plain_model(17), seed=3).state_dict(), meta, dict(dataset='ap10k'))
    return path


@pytest.mark.parametrize('mode', ['test', 'val'])
def test_testing_another_datasets_checkpoint_is_refused(ap10k_checkpoint, mode):
    with pytest.raises(CheckpointMismatchError, match="'ap10k'.*'coco'"):
        _Runner(_config(), mode).load_checkpoint(ap10k_checkpoint)


def test_fine_tuning_another_datasets_checkpoint_warns(ap10k_checkpoint, mmlogger_warnings):
    ckpt = _Runner(_config(), 'train').load_checkpoint(ap10k_checkpoint)
    assert ckpt['meta']['dataset_meta']['dataset_name'] == 'ap10k'
    lines = mmlogger_warnings
    assert len(lines) == 1 and "'ap10k'" in lines[0] and "'coco'" in lines[0]


def test_checkpoint_loading_option_overrides_the_default(ap10k_checkpoint):
    _Runner(_config(checkpoint_loading=dict(dataset_check='warn')), 'test').load_checkpoint(ap10k_checkpoint)
    with pytest.raises(CheckpointMismatchError):
        _Runner(_config(checkpoint_loading=dict(dataset_check='error')), 'train').load_checkpoint(ap10k_checkpoint)
