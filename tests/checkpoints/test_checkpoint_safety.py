"""mmengine's checkpoints load under torch.load(weights_only=True) inside the package loader's allow-list context
(``mmengine_checkpoint_globals``), and only there; nothing else gets through."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

from vitpose_mm.checkpoints.io import load_file
from vitpose_mm.checkpoints.safe_globals import mmengine_checkpoint_globals


def test_message_hub_state_round_trips_under_weights_only(tmp_path):
    hub = MessageHub.get_instance('test_checkpoint_safety')
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_scalar('train/loss', 0.25)
    hub.update_info('iter', np.int64(3))
    ckpt = {'meta': {'seed': 0, 'dataset_meta': {'sigmas': np.ones(17, np.float32)}},
            'message_hub': hub.state_dict(), 'state_dict': {'w': torch.ones(2)}}
    torch.save(ckpt, tmp_path / 'ckpt.pth')
    with pytest.raises(pickle.UnpicklingError, match='Unsupported global'):  # outside the context: torch's own list
        torch.load(tmp_path / 'ckpt.pth', weights_only=True)
    before = set(torch.serialization.get_safe_globals())
    with mmengine_checkpoint_globals():
        loaded = torch.load(tmp_path / 'ckpt.pth', weights_only=True)
        with mmengine_checkpoint_globals():  # nested: the outer block keeps its globals
            pass
        torch.load(tmp_path / 'ckpt.pth', weights_only=True)
    assert set(torch.serialization.get_safe_globals()) == before
    assert load_file(tmp_path / 'ckpt.pth')['message_hub']['log_scalars']['train/loss'].mean() == pytest.approx(0.375)
    buf = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer) and buf.mean() == pytest.approx(0.375)
    np.testing.assert_array_equal(loaded['meta']['dataset_meta']['sigmas'], np.ones(17, np.float32))


class _GetattrGadget:
    """Pickles as getattr(target, name): what an attacker would use to reach code through an allowed class."""

    def __init__(self, target, name):
        self.target, self.name = target, name

    def __reduce__(self):
        return (getattr, (self.target, self.name))


@pytest.mark.parametrize('target,name', [(HistoryBuffer, '__init__'), (np.ndarray, 'tofile'),
                                         (HistoryBuffer, '__class__')])
def test_getattr_is_restricted_to_history_buffer_statistics(tmp_path, target, name):
    torch.save({'x': _GetattrGadget(target, name)}, tmp_path / 'evil.pth')
    with pytest.raises(pickle.UnpicklingError, match=name), mmengine_checkpoint_globals():
        torch.load(tmp_path / 'evil.pth', weights_only=True)
