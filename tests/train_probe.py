"""Hooks for the training-process tests (tests/engine/test_distributed.py, tests/engine/test_resume.py).

Imported by the training processes through ``custom_imports`` (tests/ is on their PYTHONPATH).
"""
import json
import os
import signal

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class ProbeHook(Hook):
    """Writes ``probe_rank{r}.json`` (per iteration: image ids and loss) and ``probe_rank{r}.pth`` (final weights)."""

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.records = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        ids = [int(s.metainfo['id']) for s in data_batch['data_samples']]
        self.records.append(dict(iter=runner.iter, ids=ids, loss=float(outputs['loss'])))

    def after_train(self, runner):
        rank = get_rank()
        os.makedirs(self.out_dir, exist_ok=True)
        with open(os.path.join(self.out_dir, f'probe_rank{rank}.json'), 'w') as f:
            json.dump(self.records, f)
        if 'FullyShardedDataParallel' in type(runner.model).__name__:
            return  # sharded parameters: the runner's own (full) checkpoint holds the weights
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        torch.save(model.state_dict(), os.path.join(self.out_dir, f'probe_rank{rank}.pth'))


@HOOKS.register_module()
class KillAtIterHook(Hook):
    """SIGKILL the training process before iteration ``at_iter`` runs (no clean-up, as an out-of-memory kill)."""

    def __init__(self, at_iter: int):
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at_iter:
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class OptimStateProbeHook(Hook):
    """Writes ``optim_{when}_rank{r}.pth``: this rank's live AdamW state by parameter name (``exp_avg``,
    ``exp_avg_sq``, ``step``; under FSDP each rank's flat share of every parameter) and the parameter's shape as
    built, at ``before_train`` (after a resume) and ``after_train``."""

    def __init__(self, out_dir: str):
        self.out_dir = out_dir

    def _dump(self, runner, when: str):
        from vitpose_mm.engine.fsdp import clean_name
        optimizer = runner.optim_wrapper.optimizer
        states = {}
        for name, param in runner.model.named_parameters():
            state = optimizer.state.get(param)
            if state:
                states[clean_name(name).removeprefix('module.')] = {k: v.detach().clone() for k, v in state.items()}
        os.makedirs(self.out_dir, exist_ok=True)
        torch.save(states, os.path.join(self.out_dir, f'optim_{when}_rank{get_rank()}.pth'))

    def before_train(self, runner):
        self._dump(runner, 'before')

    def after_train(self, runner):
        self._dump(runner, 'after')
