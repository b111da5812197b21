"""Missing weights are refused whichever code loads a model built from the package's configs (mmengine's plain
Runner as mmpose's tools/test.py builds it, mmengine's and torch's strict=False loads), and every key the package's
loader drops is named with its reason."""
import logging

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.runner import Runner
from mmengine.runner.checkpoint import load_checkpoint as mmengine_load_checkpoint

from convert_utils import build_model
from random_weights import randomize_
from vitpose_mm.checkpoints import LAYOUTS, from_vitpose_mm, load_checkpoint
from vitpose_mm.models.strict_loading import MissingWeightsError


@pytest.fixture(scope='module')
def trained():
    return randomize_(build_model(), seed=7).state_dict()


def _without(sd, *keys):
    return {k: v for k, v in sd.items() if k not in keys}


def test_mmengine_plain_runner_refuses_a_checkpoint_without_the_final_layer(trained, tmp_path):
    path = tmp_path / 'no_final_layer.pth'
    torch.save({'state_dict': _without(trained, 'head.final_layer.weight')}, path)
    runner = Runner(model=build_model(), work_dir=str(tmp_path / 'work'))  # what mmpose's tools/test.py builds
    with pytest.raises(MissingWeightsError, match=r'head\.final_layer\.weight'):
        runner.load_checkpoint(str(path))  # mmengine: load_checkpoint(model, ..., strict=False)


@pytest.mark.parametrize('key', ['backbone.blocks.1.attn.qkv.weight', 'backbone.pos_embed',
                                 'head.deconv_layers.1.running_var'])
def test_non_strict_loads_refuse_any_missing_weight(trained, tmp_path, key):
    path = tmp_path / 'partial.pth'
    torch.save(_without(trained, key), path)
    with pytest.raises(MissingWeightsError, match=key.replace('.', r'\.')):
        mmengine_load_checkpoint(build_model(), str(path), strict=False)
    with pytest.raises(MissingWeightsError, match=key.replace('.', r'\.')):
        build_model().load_state_dict(_without(trained, key), strict=False)


def test_complete_checkpoints_and_declared_partial_loads_pass(trained, tmp_path):
    model = build_model()
    result = model.load_state_dict(trained, strict=False)
    assert not result.missing_keys
    assert torch.equal(model.state_dict()['head.final_layer.weight'], trained['head.final_layer.weight'])
    path = tmp_path / 'partial.pth'
    torch.save({'state_dict': _without(trained, 'head.final_layer.bias')}, path)
    load_checkpoint(build_model(), str(path), allow_missing=['head.final_layer.bias'])  # the package's loader


def test_every_dropped_key_is_named_with_its_reason(trained, tmp_path):
    official = from_vitpose_mm(trained, LAYOUTS['official'])
    official['backbone.cls_token'] = torch.zeros(1, 1, 64)
    path = tmp_path / 'official.pth'
    torch.save({'state_dict': official}, path)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        load_checkpoint(build_model(), str(path))
    finally:
        logger.removeHandler(handler)
    lines = [r.getMessage() for r in records]
    assert any('1 dropped' in m for m in lines)
    assert any(m.strip().startswith('dropped backbone.cls_token: ') and 'class token' in m for m in lines), lines
