"""`mim run vitpose_mm finetune` finds tools/finetune.py the way mim looks tools up."""
import os.path as osp

from mim.utils import recursively_find

from conftest import ROOT


def test_mim_finds_the_finetune_tool():
    # mim run: recursively_find(<package>/.mim/tools/, 'finetune.py'), then the files ending in '/finetune.py'
    prefix = osp.join(ROOT, 'vitpose_mm', '.mim', 'tools') + '/'
    files = [f for f in recursively_find(prefix, 'finetune.py') if f.endswith('/finetune.py')]
    assert len(files) == 1
    assert osp.samefile(files[0], osp.join(ROOT, 'tools', 'finetune.py'))
