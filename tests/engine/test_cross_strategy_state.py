"""An optimizer state written by one strategy and resumed by another: FSDP's full state (parameters by name) and a
plain one (one process, DDP: parameters by position) are mapped parameter by parameter, or refused naming both
strategies (the 2-process runs: tests/engine/test_checkpoint_roundtrip.py)."""
import pytest
import torch
from torch import nn

from vitpose_mm.engine.fsdp import clean_name, named_optim_state, positional_optim_state


def _model_and_optimizer(groups=2):
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    params = list(model.parameters())
    split = [params[:2], params[2:]] if groups == 2 else [params]
    optimizer = torch.optim.AdamW([dict(params=p, group_name=f'g{i}') for i, p in enumerate(split)], lr=0.1)
    model(torch.randn(5, 3)).square().sum().backward()
    optimizer.step()
    return model, optimizer


def _names(model):
    return {id(p): clean_name(n) for n, p in model.named_parameters()}


def test_plain_to_named_and_back_is_exact():
    model, optimizer = _model_and_optimizer()
    plain = optimizer.state_dict()
    named = named_optim_state(plain, optimizer, _names(model), 'DDP', 'ViTPoseFSDPStrategy')
    assert [g['params'] for g in named['param_groups']] == [['0.weight', '0.bias'], ['1.weight', '1.bias']]
    assert torch.equal(named['state']['1.bias']['exp_avg_sq'], plain['state'][3]['exp_avg_sq'])
    back = positional_optim_state(named, optimizer, _names(model), 'ViTPoseFSDPStrategy', 'a single process')
    assert back['param_groups'] == plain['param_groups']
    for i, state in plain['state'].items():
        assert all(torch.equal(state[k], back['state'][i][k]) for k in state)
    fresh_model, fresh = _model_and_optimizer()
    fresh.load_state_dict(back)
    assert torch.equal(fresh.state[fresh.param_groups[1]['params'][0]]['exp_avg'], plain['state'][2]['exp_avg'])


def test_other_groups_are_refused_naming_both_strategies():
    model, optimizer = _model_and_optimizer(groups=1)
    _, two_groups = _model_and_optimizer(groups=2)
    with pytest.raises(ValueError, match='written by DDP and is resumed by ViTPoseFSDPStrategy'):
        named_optim_state(two_groups.state_dict(), optimizer, _names(model), 'DDP', 'ViTPoseFSDPStrategy')
    named = dict(state={}, param_groups=[dict(params=['0.weight', '0.bias']), dict(params=['1.bias', '1.weight'])])
    model2, optimizer2 = _model_and_optimizer()
    with pytest.raises(ValueError, match=r'ViTPoseFSDPStrategy and is resumed by a single process.*group 1'):
        positional_optim_state(named, optimizer2, _names(model2), 'ViTPoseFSDPStrategy', 'a single process')
