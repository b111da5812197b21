"""What sharded (FSDP) training of the ViT needs from this package: the wrap policy (one FSDP unit per block) and
``ViTPoseFSDPStrategy``, mmengine's ``FSDPStrategy`` with checkpoints that round-trip.

Used through mmengine's ``FlexibleRunner`` (here :class:`vitpose_mm.engine.ViTPoseFlexibleRunner`); see
``configs/fsdp/*.py`` and docs/training.md. The layer-decay constructor reads the original parameter shapes under
FSDP (``engine/optim_wrappers/layer_decay_constructor.py``).
"""
from typing import Any, Dict, List

from mmengine._strategy import FSDPStrategy
from mmengine.registry import FUNCTIONS, STRATEGIES
from torch import nn
from torch.distributed.fsdp import FullOptimStateDictConfig, FullyShardedDataParallel as FSDP

_WRAPPER_SEGMENTS = ('_fsdp_wrapped_module.', '_checkpoint_wrapped_module.', '_orig_mod.')

from vitpose_mm.models.layers import Block


@FUNCTIONS.register_module()
def vit_block_wrap_policy(module: nn.Module, recurse: bool, nonwrapped_numel: int) -> bool:
    """FSDP ``auto_wrap_policy``: every transformer block of the ViT (and its ViTPose+ MoE MLPs with it) is its own
    FSDP unit; the embeddings, ``last_norm`` and the head stay in the root unit. Config:
    ``model_wrapper=dict(auto_wrap_policy=dict(type='vit_block_wrap_policy'), use_orig_params=True)``."""
    return True if recurse else isinstance(module, Block)


@STRATEGIES.register_module()
class ViTPoseFSDPStrategy(FSDPStrategy):
    """mmengine's ``FSDPStrategy`` (same arguments) whose checkpoints round-trip: the saved optimizer state is the
    live one, ``--resume`` restores it, the model loads strictly, and a checkpoint of another strategy (one process,
    DDP) resumes when its optimizer groups match this run's, else is refused naming both strategies.

    Two library bugs are worked around here, and only here (mmengine 0.10.7, torch 2.14.1):

    - torch 2.14.1's ``FSDP.optim_state_dict`` with ``offload_to_cpu=True`` (mmengine's ``state_dict_cfg='full'``)
      all-gathers every optimizer state of a parameter (``exp_avg``, then ``exp_avg_sq``) into one reused buffer
      and skips the copy because it "offloads": ``Tensor.cpu()`` of a CPU tensor is the tensor itself. On the CPU
      every saved state of a parameter is then a view of that buffer, i.e. the last state gathered (``exp_avg`` is
      ``exp_avg_sq``, same memory), while the live state is healthy. Saved here with ``offload_to_cpu=False``
      when FSDP computes on the CPU (torch then copies each state; on a GPU the offload is a real copy).
    - mmengine 0.10.7's ``FSDPStrategy.load_optim_state_dict`` calls ``FSDP.optim_state_dict_to_load(state_dict,
      model, optimizer)``, torch's old argument order: ``--resume`` stops with ``TypeError: unhashable type:
      'dict'``. Called with keywords here.

    Only full state dicts (``state_dict_cfg='full'``, the shipped configs) are accepted: mmengine's sharded
    ``'local'`` checkpoints are a folder per file, which this package's atomic checkpoint writing does not handle.

    Raises:
        ValueError: ``state_dict_cfg`` other than ``'full'``.
    """

    def __init__(self, *, state_dict_cfg: Any = 'full', **kwargs) -> None:
        if state_dict_cfg != 'full':
            raise ValueError(f"{type(self).__name__}: state_dict_cfg={state_dict_cfg!r}; only 'full' (unsharded "
                             'checkpoints on rank 0) round-trips through this package\'s runner')
        super().__init__(state_dict_cfg=state_dict_cfg, **kwargs)

    def optim_state_dict(self) -> dict:
        config = self.optim_state_dict_config
        if config.offload_to_cpu and self.model.compute_device.type == 'cpu':  # torch 2.14.1: see class doc
            config = FullOptimStateDictConfig(offload_to_cpu=False, rank0_only=config.rank0_only)
        with FSDP.state_dict_type(self.model, self.state_dict_type, self.state_dict_config, config):
            return FSDP.optim_state_dict(self.model, self.optim_wrapper.optimizer)

    def load_checkpoint(self, filename: str, *, callback=None, **kwargs) -> dict:
        """Read through this package's reader (weights only, on the CPU), then load the model strictly;
        mmengine's ``map_location``, ``strict`` and ``revise_keys`` are ignored."""
        from vitpose_mm.checkpoints.io import load_file
        self.logger.info(f'Load checkpoint from {filename}')
        checkpoint = load_file(filename)
        if callback is not None:
            callback(checkpoint)
        self.load_model_state_dict(checkpoint.pop('state_dict'))
        self._written_by = (checkpoint.get('meta') or {}).get('vitpose_mm', {}).get('strategy', 'an unknown strategy')
        return checkpoint

    def load_model_state_dict(self, state_dict: dict, *, strict: bool = False, revise_keys: list = ()) -> None:
        """Always strict (mmengine's default is not): a key missing from a checkpoint is an error."""
        self.model.load_state_dict(state_dict, strict=True)

    def load_optim_state_dict(self, state_dict: dict) -> None:
        """``state_dict``: FSDP's full optimizer state (parameters by name), or the plain one of a single process or
        DDP (parameters by position), converted by name when its groups match this run's."""
        optimizer = self.optim_wrapper.optimizer
        if not _by_name(state_dict):
            state_dict = named_optim_state(state_dict, optimizer, _param_names(self.model),
                                           getattr(self, '_written_by', 'an unknown strategy'), type(self).__name__)
        to_load = FSDP.optim_state_dict_to_load(model=self.model, optim=optimizer, optim_state_dict=state_dict)
        self.optim_wrapper.load_state_dict(to_load)


def clean_name(name: str) -> str:
    """A parameter name without the segments FSDP, activation checkpointing and torch.compile insert."""
    for segment in _WRAPPER_SEGMENTS:
        name = name.replace(segment, '')
    return name


def _param_names(model: nn.Module) -> Dict[int, str]:
    return {id(p): clean_name(n) for n, p in model.named_parameters()}


def _by_name(state_dict: dict) -> bool:
    groups = state_dict.get('param_groups') or []
    return any(isinstance(p, str) for g in groups for p in g['params'])


def _group_names(optimizer, names: Dict[int, str]) -> List[List[str]]:
    return [[names[id(p)] for p in g['params']] for g in optimizer.param_groups]


def _refuse(state_dict: dict, live: List[List[str]], written_by: str, resumed_by: str, saved: List[list]):
    sizes = [len(g['params']) for g in state_dict['param_groups']]
    return ValueError(
        f'cannot resume: the optimizer state was written by {written_by} and is resumed by {resumed_by}, but its '
        f'param groups do not match this run\'s ({len(sizes)} groups of {sizes} parameters vs {len(live)} groups '
        f'of {[len(g) for g in live]}{"; first differing: " + _first_difference(saved, live) if saved else ""}): '
        'resume with the strategy and optimizer config that wrote it, or start from its weights with load_from')


def _first_difference(saved: List[list], live: List[List[str]]) -> str:
    for i, (a, b) in enumerate(zip(saved, live)):
        if a != b:
            return f'group {i}'
    return f'group {min(len(saved), len(live))}'


def named_optim_state(state_dict: dict, optimizer, names: Dict[int, str], written_by: str,
                      resumed_by: str) -> dict:
    """A plain optimizer state (parameters by position) keyed by parameter name, as FSDP's full optimizer state,
    by the live ``optimizer``'s groups; refused (ValueError naming both strategies) when the group sizes differ."""
    live = _group_names(optimizer, names)
    saved = state_dict['param_groups']
    if [len(g['params']) for g in saved] != [len(g) for g in live] or any(
            g.get('group_name', 0) != lg.get('group_name', 0) for g, lg in zip(saved, optimizer.param_groups)):
        raise _refuse(state_dict, live, written_by, resumed_by, [])
    to_name = {i: n for g, lg in zip(saved, live) for i, n in zip(g['params'], lg)}
    return dict(state={to_name[i]: s for i, s in state_dict['state'].items()},
                param_groups=[dict(g, params=lg) for g, lg in zip(saved, live)])


def positional_optim_state(state_dict: dict, optimizer, names: Dict[int, str], written_by: str,
                           resumed_by: str) -> dict:
    """FSDP's full optimizer state (parameters by name) as a plain optimizer's (parameters by position in the live
    ``optimizer``'s groups); refused (ValueError naming both strategies) unless every group holds the same names
    in the same order. A plain state is returned as it is."""
    if not _by_name(state_dict):
        return state_dict
    live = _group_names(optimizer, names)
    saved = [list(g['params']) for g in state_dict['param_groups']]
    if saved != live:
        raise _refuse(state_dict, live, written_by, resumed_by, saved)
    to_index = {n: i for i, n in enumerate(n for g in live for n in g)}
    groups, start = [], 0
    for g in state_dict['param_groups']:
        groups.append(dict(g, params=list(range(start, start + len(g['params'])))))
        start += len(g['params'])
    return dict(state={to_index[n]: s for n, s in state_dict['state'].items()}, param_groups=groups)


def strategy_name(runner) -> str:
    """How ``runner`` trains, as recorded in its checkpoints: the strategy's class (FlexibleRunner), else
    ``'DDP'`` (a wrapped model) or ``'a single process'``."""
    from mmengine.model import is_model_wrapper
    strategy = getattr(runner, 'strategy', None)
    if strategy is not None:
        return type(strategy).__name__
    return 'DDP' if is_model_wrapper(runner.model) else 'a single process'


__all__ = ['vit_block_wrap_policy', 'ViTPoseFSDPStrategy', 'clean_name', 'named_optim_state',
           'positional_optim_state', 'strategy_name']
