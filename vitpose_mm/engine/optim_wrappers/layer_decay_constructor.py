# References: MAE util/lr_decay.py (param_groups_lrd) and the official ViTPose
# mmcv_custom/layer_decay_optimizer_constructor.py, for the grouping rule; the layer ids come from the backbone.
"""Layer-wise learning-rate decay for ViTPose, with the backbone describing its own layers.

mmpose 1.x registers its own ``LayerDecayOptimWrapperConstructor`` (which matches mmpretrain's
``backbone.layers.*`` names and reads ``paramwise_cfg`` loosely), hence the distinct name here.
"""
from typing import Dict, List, Optional, Tuple

from mmengine.logging import MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from mmpose.registry import OPTIM_WRAPPER_CONSTRUCTORS
from ..fsdp import clean_name as _clean

_PARAMWISE_KEYS = ('num_layers', 'layer_decay_rate', 'no_decay_names')
_BACKBONE_PREFIX = 'backbone.'


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ViTPoseLayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Param groups with layer-wise lr decay, as ViTPose trains.

    The model's backbone is this package's ``ViT`` (``get_layer_depth(name) -> (layer_id, max_layer_id)``, full
    parameter names, ``no_weight_decay() -> set of names``) or mmpretrain's ``VisionTransformer`` (mmpose's own
    ViTPose configs: its ``get_layer_depth`` returns ``max_layer_id + 1``; the groups then equal mmpose 1.3.2's
    ``LayerDecayOptimWrapperConstructor``'s, ``pos_embed`` without weight decay); any other backbone is refused.
    A parameter's lr is ``lr * layer_decay_rate ** (max_layer_id - layer_id)``; parameters outside the backbone (the
    head) get scale 1. 1-D parameters (biases, norms) and the names from ``no_weight_decay()`` and
    ``no_decay_names`` get weight decay 0, the rest ``optimizer.weight_decay``. One param group per
    (layer id, decay or not), each carrying ``lr``, ``weight_decay``, ``lr_scale`` and ``group_name``.

    Args:
        optim_wrapper_cfg (dict): The optim wrapper config, with ``optimizer`` (its ``lr`` is required).
        paramwise_cfg (dict): Only these keys:

            - ``layer_decay_rate`` (float, required): decay per layer, e.g. 0.75 for ViT-B.
            - ``num_layers`` (int, optional): number of transformer blocks; checked against the backbone's
              ``get_layer_depth`` (it must equal ``max_layer_id - 1``) and taken from it when omitted.
            - ``no_decay_names`` (list[str], optional): further full parameter names without weight decay.

            Any other key (e.g. ``custom_keys`` or the official configs' unused ``decay_multi``) raises
            ``ValueError``.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        if self.base_lr is None:
            raise ValueError(f'{type(self).__name__} needs optimizer.lr to scale per layer')

    def _validate_cfg(self) -> None:
        """Read ``paramwise_cfg`` strictly (called by the parent's ``__init__``)."""
        cfg = self.paramwise_cfg
        if not isinstance(cfg, dict):
            raise TypeError(f'paramwise_cfg must be a dict, got {type(cfg).__name__}')
        unknown = sorted(set(cfg) - set(_PARAMWISE_KEYS))
        if unknown:
            raise ValueError(f'paramwise_cfg has unknown keys {unknown}; {type(self).__name__} accepts only '
                             f'{list(_PARAMWISE_KEYS)}')
        if 'layer_decay_rate' not in cfg:
            raise ValueError('paramwise_cfg must set layer_decay_rate')
        rate = cfg['layer_decay_rate']
        if not isinstance(rate, (int, float)) or not 0 < rate <= 1:
            raise ValueError(f'paramwise_cfg.layer_decay_rate must be in (0, 1], got {rate!r}')
        num_layers = cfg.get('num_layers')
        if num_layers is not None and (not isinstance(num_layers, int) or num_layers < 0):
            raise ValueError(f'paramwise_cfg.num_layers must be an int >= 0, got {num_layers!r}')
        names = cfg.get('no_decay_names', ())
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise ValueError(f'paramwise_cfg.no_decay_names must be a list of str, got {names!r}')

    def __call__(self, model: nn.Module):
        # FSDP (mmengine's FSDPStrategy builds the optimizer after wrapping): with use_orig_params=True the
        # parameters are 1-D views into sharded flat parameters, some of them empty on a rank, so `ndim` no longer
        # tells a matrix from a bias. Read the original shapes once, with the full parameters gathered.
        self._shapes = _original_shapes(model)
        return super().__call__(model)

    def add_params(self, params: List[dict], module: nn.Module, *args, **kwargs) -> None:
        """Append ViTPose's layer-decay param groups for ``module`` (the unwrapped model) to ``params``.

        The parent's ``__call__`` has already replaced a DDP-style wrapper by its ``.module``.
        """
        model = getattr(module, 'module', module)
        backbone = getattr(model, 'backbone', None)
        if backbone is None:
            raise ValueError(f'{type(self).__name__} needs a model with a `backbone`; '
                             f'{type(model).__name__} has none')
        if not callable(getattr(backbone, 'get_layer_depth', None)):
            raise ValueError(f'{type(self).__name__} needs the backbone to implement get_layer_depth(name); '
                             f'{type(backbone).__name__} does not')

        # Names outside the prefix get the last layer id; depth = blocks = max - 1.
        numbering = _numbering(backbone, type(self).__name__)
        _, max_layer_id = backbone.get_layer_depth('', _BACKBONE_PREFIX)
        max_layer_id -= numbering == 'count'
        num_layers = self.paramwise_cfg.get('num_layers', max_layer_id - 1)
        if num_layers != max_layer_id - 1:
            raise ValueError(f'paramwise_cfg.num_layers={num_layers} but the backbone '
                             f'{type(backbone).__name__} has {max_layer_id - 1} layers')
        rate = self.paramwise_cfg['layer_decay_rate']

        no_decay = {_BACKBONE_PREFIX + n for n in getattr(backbone, 'no_weight_decay', set)()}
        extra_no_decay = set(self.paramwise_cfg.get('no_decay_names', ()))
        shapes = getattr(self, '_shapes', None) or {}
        named = [(_clean(name), param) for name, param in model.named_parameters()]
        param_names = {name for name, _ in named}
        missing = sorted(extra_no_decay - param_names)
        if missing:
            raise ValueError(f'paramwise_cfg.no_decay_names {missing} are not parameters of the model')
        no_decay |= extra_no_decay
        if numbering == 'count':  # mmpose's rule for mmpretrain's ViT: no weight decay on the position embedding
            no_decay |= {n for n in param_names if n.startswith(_BACKBONE_PREFIX) and 'pos_embed' in n}

        groups: Dict[Tuple[int, bool], dict] = {}
        for name, param in named:
            if not param.requires_grad:
                continue
            if name.startswith(_BACKBONE_PREFIX):
                layer_id, _ = backbone.get_layer_depth(name, _BACKBONE_PREFIX)
            else:
                layer_id = max_layer_id
            decay = len(shapes.get(name, param.shape)) > 1 and name not in no_decay
            key = (layer_id, decay)
            if key not in groups:
                scale = rate**(max_layer_id - layer_id)
                groups[key] = dict(
                    params=[],
                    lr=self.base_lr * scale,
                    lr_scale=scale,
                    group_name=f"layer_{layer_id}_{'decay' if decay else 'no_decay'}")
                if not decay:
                    groups[key]['weight_decay'] = 0.0
                elif self.base_wd is not None:
                    groups[key]['weight_decay'] = self.base_wd
                # else: the optimizer's own default weight decay applies
            groups[key]['params'].append(param)

        logger = MMLogger.get_current_instance()
        # Sorted by layer, the decayed group first, so the log reads from the input up.
        for key in sorted(groups, key=lambda k: (k[0], not k[1])):
            group = groups[key]
            numel = sum(p.numel() for p in group['params'])  # this rank's share under FSDP
            logger.info(f"{type(self).__name__}: {group['group_name']}: lr_scale={group['lr_scale']:.6g} "
                        f"lr={group['lr']:.6g} weight_decay={group.get('weight_decay', 'optimizer default')} "
                        f"tensors={len(group['params'])} params={numel:,}")
            params.append(group)


def _numbering(backbone: nn.Module, constructor: str) -> str:
    """How ``backbone.get_layer_depth`` numbers layers: ``'max_id'`` (this package's ``ViT``: it returns
    ``(layer_id, max_layer_id)``) or ``'count'`` (mmpretrain's ``VisionTransformer``: ``(layer_id, max_layer_id +
    1)``, blocks ``layers.N``; mmpose 1.3.2's ``LayerDecayOptimWrapperConstructor`` gives the same learning rates
    and no weight decay on ``pos_embed``). Another backbone's numbering is unknown: refused (ValueError naming it)."""
    from vitpose_mm.models.backbones.vit import ViT
    rule = getattr(type(backbone), 'get_layer_depth', None)
    if rule is ViT.get_layer_depth:
        return 'max_id'
    if type(backbone).__module__.startswith('mmpretrain.'):
        from mmpretrain.models.backbones import VisionTransformer
        if rule is VisionTransformer.get_layer_depth:
            return 'count'
    raise ValueError(f'{constructor} does not know the layer numbering of {type(backbone).__module__}.'
                     f'{type(backbone).__name__}.get_layer_depth (known: vitpose_mm ViT, mmpretrain '
                     'VisionTransformer); use the constructor that comes with that backbone (mmpretrain\'s '
                     'LearningRateDecayOptimWrapperConstructor)')


def _original_shapes(model: nn.Module) -> Dict[str, Tuple[int, ...]]:
    """Parameter name (cleaned) -> shape as built; under FSDP read with the full parameters summoned (a collective:
    every rank builds its optimizer, so every rank takes part)."""
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    if not isinstance(model, FSDP):
        return {_clean(n): tuple(p.shape) for n, p in model.named_parameters()}
    with FSDP.summon_full_params(model, writeback=False, offload_to_cpu=True):
        return {_clean(n): tuple(p.shape) for n, p in model.named_parameters()}
