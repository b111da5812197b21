"""``import vitpose_mm`` registers modules and changes nothing else in the process.

In a fresh interpreter: import the package, build a ``ViT`` and take an optimizer step on it; then mmengine's
``_init_dist_pytorch`` is mmengine's own, torch's weights-only allow-list and its global optimizer and module hooks
are as before, and no satellite (nor conversion-only checkpoint code) is loaded.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SATELLITES = ('vitpose_mm.apis', 'vitpose_mm.deploy', 'vitpose_mm.analysis', 'vitpose_mm.config_convert',
              'vitpose_mm.synthetic', 'vitpose_mm.models.mae', 'vitpose_mm.finetune')
# used by tools that write or convert files, never by loading: not for `import vitpose_mm`
CONVERSION_ONLY = ('vitpose_mm.checkpoints.convert_file', 'vitpose_mm.checkpoints.student',
                   'vitpose_mm.checkpoints.multi_dataset', 'vitpose_mm.checkpoints.hf',
                   'vitpose_mm.checkpoints.diagnose', 'vitpose_mm.checkpoints.arch')
# Conversion-only modules still loaded by `import vitpose_mm`, each to be removed (empty: none is).
PENDING: set = set()

PROBE = r'''
import json, sys
import torch
import torch.nn.modules.module as torch_module
import torch.optim.optimizer as torch_optimizer
from mmengine.dist import utils as dist_utils
# the stack vitpose_mm builds on first: importing torch.distributed.tensor (mmengine's runner) adds torch's own globals
import mmengine.runner, mmpose.apis, mmpose.datasets, mmpose.engine, mmpose.evaluation, mmpose.models  # noqa

mmengine_init = dist_utils._init_dist_pytorch
safe_globals = set(torch.serialization.get_safe_globals())
module_hooks = {k: len(v) for k, v in vars(torch_module).items() if k.startswith('_global_') and isinstance(v, dict)}

import vitpose_mm
from vitpose_mm.models import ViT

vit = ViT(img_size=(64, 48), patch_size=16, embed_dim=32, depth=2, num_heads=2, num_expert=2, part_features=8)
optimizer = torch.optim.AdamW(vit.parameters(), lr=1e-3)
vit(torch.randn(2, 3, 64, 48), torch.tensor([0, 1]))[0].sum().backward()
optimizer.step()
print(json.dumps(dict(
    init_dist_pytorch=[dist_utils._init_dist_pytorch is mmengine_init, dist_utils._init_dist_pytorch.__module__],
    safe_globals_added=sorted(map(repr, set(torch.serialization.get_safe_globals()) - safe_globals)),
    optimizer_hooks=[len(torch_optimizer._global_optimizer_pre_hooks),
                     len(torch_optimizer._global_optimizer_post_hooks)],
    module_hooks_added={k: len(v) - module_hooks[k] for k, v in vars(torch_module).items() if k in module_hooks
                        and len(v) != module_hooks[k]},
    modules=sorted(m for m in sys.modules if m.split('.')[0] == 'vitpose_mm'))))
'''


@pytest.fixture(scope='module')
def after_import():
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')])}
    proc = subprocess.run([sys.executable, '-c', PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


pytestmark = pytest.mark.slow


def test_mmengine_launcher_is_its_own(after_import):
    assert after_import['init_dist_pytorch'] == [True, 'mmengine.dist.utils']


def test_no_serialization_allow_list(after_import):
    assert after_import['safe_globals_added'] == []


def test_no_global_optimizer_or_module_hook(after_import):
    assert after_import['optimizer_hooks'] == [0, 0]
    assert after_import['module_hooks_added'] == {}


def test_no_satellite_is_loaded(after_import):
    loaded = after_import['modules']
    assert 'vitpose_mm.models.backbones.vit' in loaded  # the probe did import the package
    satellites = [m for m in loaded if any(m == s or m.startswith(s + '.') for s in SATELLITES)]
    assert satellites == []
    assert sorted(set(CONVERSION_ONLY) & set(loaded) - PENDING) == []
    assert PENDING <= set(loaded), 'remove from PENDING what is no longer loaded'
