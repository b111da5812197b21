"""mmengine's Runner with all-or-nothing checkpoint loading that says what does not fit, checkpoints that record
their position grid, hold plain data and are written atomically, a check that layer decay reached the ViT's blocks,
and data-parallel training on machines without CUDA."""
import os
import os.path as osp
from typing import Any, Dict, Optional

import torch
from mmengine.dist import is_main_process
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.registry import RUNNERS
from mmengine.runner import BaseLoop, FlexibleRunner, Runner

from vitpose_mm.checkpoints.safe_globals import mmengine_checkpoint_globals
from .dist import cpu_ddp_wrapper_cfg
from .fsdp import clean_name, positional_optim_state, strategy_name
from .optim_wrappers.layer_decay_guard import LayerDecayCheckHook
from .plain_checkpoint import from_plain, make_checkpoint_plain

LOAD_OPTIONS = ('layout', 'dataset', 'src_grid', 'patch_padding', 'verbose', 'dataset_check')


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


class CheckpointMixin:
    """Checkpoint loading and saving shared by :class:`ViTPoseRunner` and :class:`ViTPoseFlexibleRunner`.

    ``load_from`` / ``--resume`` / ``--checkpoint`` go through :func:`vitpose_mm.checkpoints.load`:
    mmengine's default (``strict=False``) only logs a warning for missing, surplus or mis-shaped keys and goes on
    with a half-loaded model. Here a checkpoint of any public layout is converted on the way (official, mmpose 1.x,
    HF; position grid and patch size fitted), and one that does not fit stops the run with what it is, what the
    model is and the fix; the model is left untouched. Options of that loading come from the config's
    ``checkpoint_loading = dict(src_grid=(h, w), dataset=..., layout=..., patch_padding=..., verbose=...,
    dataset_check=...)``. A checkpoint whose head predicts another dataset's keypoints than the config's dataset (an
    AP-10K model in a COCO config) is refused when testing or validating (its channels would be read and flipped as
    the config's keypoints) and only warned about when training (fine-tuning on another dataset through
    ``load_from`` is legitimate); ``dataset_check='warn'`` or ``'error'`` overrides that.
    Initialising a backbone from pre-training weights is the job of ``init_cfg`` (``ViTPosePretrained``), not of
    ``load_from``. Saved checkpoints record the ViT's grid in ``meta['vitpose_mm']``, hold plain data (they load
    under ``torch.load(weights_only=True)`` with no allow-list: :mod:`vitpose_mm.engine.plain_checkpoint`) and are
    written atomically.
    """

    def _loading_options(self) -> dict:
        options = dict(self.cfg.get('checkpoint_loading') or {})
        unknown = set(options) - set(LOAD_OPTIONS)
        if unknown:
            raise ValueError(f'unknown checkpoint_loading options {sorted(unknown)}; accepted: {list(LOAD_OPTIONS)}')
        return options

    def load_checkpoint(self, filename: str, map_location: Any = 'cpu', strict: bool = True,
                        revise_keys: Any = None) -> Dict[str, Any]:
        """Load ``filename`` into the model (all or nothing) and return the whole checkpoint (``meta`` ... for
        ``resume``). ``map_location``, ``strict`` and ``revise_keys`` are mmengine's and ignored: tensors are read
        on the CPU, loading is always strict, and DDP's ``module.`` is always stripped."""
        from vitpose_mm.checkpoints import load
        options = self._loading_options()
        model = _unwrap(self.model)
        if type(model).__name__ == 'FullyShardedDataParallel':  # sharded parameters: no key-by-key fitting here
            raise NotImplementedError(
                f'load_from with a sharded (FSDP) model: convert {filename} to this package\'s layout first '
                '(python tools/convert_checkpoint.py IN OUT --config CONFIG), then resume or load it with the '
                'FSDP strategy\'s own loader')
        mode = self._run_mode()
        options.setdefault('dataset_check', 'warn' if mode == 'train' else 'error')
        with mmengine_checkpoint_globals():  # also checkpoints of mmengine's own runner, from files and URLs
            loaded = load(model, filename, config=getattr(self.cfg, 'filename', None),
                          dataset_meta=_config_dataset_meta(self.cfg, mode), **options)
        self.logger.info(f'Load checkpoint from {filename}')
        checkpoint = loaded.checkpoint
        if 'optimizer' in checkpoint and isinstance(getattr(self, 'optim_wrapper', None), OptimWrapper):
            # resuming: an FSDP checkpoint's optimizer state names its parameters (see engine/fsdp.py)
            written_by = (checkpoint.get('meta') or {}).get('vitpose_mm', {}).get('strategy', 'an unknown strategy')
            checkpoint['optimizer'] = positional_optim_state(
                checkpoint['optimizer'], self.optim_wrapper.optimizer,
                {id(p): clean_name(n) for n, p in model.named_parameters()}, written_by, strategy_name(self))
        train_set = getattr(getattr(self, 'train_dataloader', None), 'dataset', None) if mode == 'train' else None
        return from_plain(checkpoint, getattr(train_set, 'metainfo', None))  # what mmengine's resume expects

    def _run_mode(self) -> str:
        """'train', 'test' or 'val': which of mmengine's ``train()``/``test()``/``val()`` is loading (each builds its
        loop before ``load_or_resume``; ``train()`` builds no test loop)."""
        if isinstance(getattr(self, '_train_loop', None), BaseLoop):
            return 'train'
        return 'test' if isinstance(getattr(self, '_test_loop', None), BaseLoop) else 'val'

    def call_hook(self, fn_name: str, **kwargs) -> None:
        """mmengine's; the checkpoint dict of ``before_save_checkpoint`` is made plain after every hook ran."""
        super().call_hook(fn_name, **kwargs)
        if fn_name == 'before_save_checkpoint':
            make_checkpoint_plain(kwargs['checkpoint'])

    def save_checkpoint(self, out_dir: str, filename: str, *args, meta: Optional[dict] = None, **kwargs) -> None:
        """mmengine's, with the ViT's position grid and patch size in ``meta['vitpose_mm']`` (so that a later load
        into a model of another grid resamples from the right one, 16x12 vs 12x16), written atomically."""
        from vitpose_mm.checkpoints import grid_record
        meta = dict(meta or {})
        record = grid_record(_unwrap(self.model))
        meta['vitpose_mm'] = {**record, 'strategy': strategy_name(self), **dict(meta.get('vitpose_mm') or {})}
        if '://' in str(out_dir) or not is_main_process():  # remote storage; other ranks write nothing (mmengine)
            return super().save_checkpoint(out_dir, filename, *args, meta=meta, **kwargs)
        # atomic for local folders: a process killed while writing leaves at most a hidden .FILENAME.*.part,
        # which neither `--resume` (it reads `last_checkpoint`, written after the save) nor a user takes for one
        from vitpose_mm.checkpoints.io import atomic_path
        with atomic_path(osp.join(out_dir, filename)) as part:
            super().save_checkpoint(out_dir, osp.basename(part), *args, meta=meta, **kwargs)


class LayerDecayCheckMixin:
    """Registers :class:`LayerDecayCheckHook` in every run (unless the config lists it already): a warning when
    mmpose's layer-decay rule misses the ViT's blocks (docs/dropin.md)."""

    def register_hooks(self, default_hooks=None, custom_hooks=None) -> None:
        super().register_hooks(default_hooks, custom_hooks)
        if not any(isinstance(hook, LayerDecayCheckHook) for hook in self.hooks):
            self.register_hook(LayerDecayCheckHook())


def _config_dataset_meta(cfg: Any, mode: str) -> Optional[dict]:
    """The metainfo of the config's ``{mode}_dataloader`` dataset (mmpose's ``dataset_meta_from_config``), or None
    when the config does not say (no such dataloader, a dataset class without ``METAINFO``, a missing file)."""
    from mmpose.apis.inference import dataset_meta_from_config
    try:
        return dataset_meta_from_config(cfg, mode)
    except (KeyError, FileNotFoundError, ValueError, TypeError):
        return None


# registered in mmengine's root registry: runners are built by `RUNNERS.build(cfg)` there, outside any scope
@RUNNERS.register_module()
class ViTPoseRunner(CheckpointMixin, LayerDecayCheckMixin, Runner):
    """``mmengine.runner.Runner`` with :class:`CheckpointMixin`'s loading and saving, :class:`LayerDecayCheckMixin`'s
    check, and data-parallel training on machines without CUDA (gloo)."""

    def wrap_model(self, model_wrapper_cfg, model):
        if self.distributed and model_wrapper_cfg is None and not torch.cuda.is_available():
            model_wrapper_cfg = cpu_ddp_wrapper_cfg(self.cfg)  # gloo on CPU: see vitpose_mm/engine/dist.py
        return super().wrap_model(model_wrapper_cfg, model)


@RUNNERS.register_module()
class ViTPoseFlexibleRunner(CheckpointMixin, LayerDecayCheckMixin, FlexibleRunner):
    """``mmengine.runner.FlexibleRunner`` (strategies: DDP, FSDP, DeepSpeed) with :class:`CheckpointMixin`'s
    loading and saving and :class:`LayerDecayCheckMixin`'s check (``runner_type = 'ViTPoseFlexibleRunner'``)."""
