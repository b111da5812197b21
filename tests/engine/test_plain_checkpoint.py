"""Checkpoints of the package's runners load under ``torch.load(weights_only=True)`` with no allow-list (mmpose's
``tools/misc/publish_model.py`` does a plain ``torch.load``), and come back as mmengine's resume expects them."""
import os
import os.path as osp
import pickle
import subprocess
import sys

import mmpose
import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmpose.datasets.datasets.utils import parse_pose_metainfo

from vitpose_mm.engine.dist import cpu_distributed
from vitpose_mm.engine.plain_checkpoint import from_plain, make_checkpoint_plain


def _checkpoint():
    hub = MessageHub.get_instance('test_plain_checkpoint')
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_scalar('train/loss', 0.25)
    hub.update_scalar('train/lr', 1e-3)
    hub.update_info('iter', 3)
    meta = parse_pose_metainfo(dict(from_file=osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', '_base_',
                                                       'datasets', 'coco.py')))
    return {'meta': {'seed': np.int64(3), 'dataset_meta': meta}, 'message_hub': hub.state_dict(),
            'state_dict': {'w': torch.arange(3.)}}, meta


def test_runner_checkpoint_loads_without_allow_list_and_resumes(tmp_path):
    ckpt, meta = _checkpoint()
    assert isinstance(meta['sigmas'], np.ndarray)  # what mmpose's metainfo holds
    weights = ckpt['state_dict']
    make_checkpoint_plain(ckpt)
    assert ckpt['state_dict'] is weights  # tensors stay as they are
    torch.save(ckpt, tmp_path / 'ckpt.pth')
    loaded = torch.load(tmp_path / 'ckpt.pth', weights_only=True)  # torch's own allow-list only
    assert loaded['meta']['seed'] == 3 and loaded['meta']['dataset_meta']['sigmas'][0] == pytest.approx(0.026)
    from_plain(loaded, meta)
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer) and buffer.mean() == pytest.approx(0.375)
    np.testing.assert_array_equal(buffer.data[1], [1., 1.])
    # mmengine's resume compares the saved and the live metainfo by their pickles: equal values -> the live object
    assert loaded['meta']['dataset_meta'] is meta
    assert pickle.dumps(loaded['meta']['dataset_meta']) == pickle.dumps(meta)


def test_other_dataset_meta_stays_as_saved(tmp_path):
    ckpt, meta = _checkpoint()
    make_checkpoint_plain(ckpt)
    other = dict(meta, sigmas=meta['sigmas'] * 2)
    from_plain(ckpt, other)
    assert isinstance(ckpt['meta']['dataset_meta']['sigmas'], list)  # so that mmengine warns about the difference


def test_cpu_launch_fix_lasts_the_block_only():
    from mmengine.dist import utils
    own = utils._init_dist_pytorch
    with pytest.raises(KeyError):
        with cpu_distributed():
            assert (utils._init_dist_pytorch is own) == torch.cuda.is_available()
            raise KeyError('inside')
    assert utils._init_dist_pytorch is own


@pytest.mark.slow
def test_trained_checkpoint_loads_in_a_process_without_vitpose_mm(tmp_path):
    """tools/train.py writes the checkpoint; a fresh interpreter that never imports vitpose_mm reads it with
    torch's defaults, as mmpose's tools/misc/publish_model.py does."""
    from tiny_train import run_train, tiny_config
    from vitpose_mm.synthetic import generate_synthetic_coco
    data = generate_synthetic_coco(tmp_path / 'synthetic', num_train=2, num_val=0, seed=1)
    work = tmp_path / 'work'
    run_train(tiny_config(data['root'], str(work), '[]', epochs=1), work)
    probe = ("import sys, torch; ck = torch.load(sys.argv[1], map_location='cpu'); "
             "assert not any(m.startswith('vitpose_mm') for m in sys.modules); print(sorted(ck))")
    proc = subprocess.run([sys.executable, '-c', probe, str(work / 'epoch_1.pth')], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, 'PYTHONPATH': ''}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "'message_hub'" in proc.stdout and "'optimizer'" in proc.stdout and "'meta'" in proc.stdout
