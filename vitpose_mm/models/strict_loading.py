"""Missing weights refused whichever code loads them: a ``load_state_dict`` post-hook on this package's modules.

mmengine 0.10.7's plain ``Runner`` (what mmpose's own ``tools/test.py`` builds, whatever ``runner_type`` says) and
mmpose's ``init_model`` load with ``mmengine.runner.load_checkpoint(model, ..., strict=False)``: a checkpoint
without, say, ``head.final_layer.weight`` loads with one warning and the head predicts from random weights (AP 0.000,
exit 0). The hook sits on the modules themselves (the ``ViT`` backbone, the pose heads), so it runs under torch's
``Module.load_state_dict`` and under mmengine's own ``load_state_dict`` alike (both call the post-hooks of every
module), and it knows only which of the module's own keys were missing: no checkpoint layout.

A deliberate partial load says so with :func:`allow_missing_weights` (this package's loader does, for its
``allow_missing`` keys).
"""
import contextlib
from contextvars import ContextVar
from typing import Iterable, Iterator

from mmengine.logging import MMLogger
from torch import nn

_ALLOWED: ContextVar[frozenset] = ContextVar('vitpose_mm_allowed_missing', default=frozenset())
_IGNORED_SUFFIXES = ('num_batches_tracked', )  # BatchNorm counters, absent from old checkpoints (torch fills them)


class MissingWeightsError(RuntimeError):
    """A load left some of a module's parameters or buffers at their initial values."""


@contextlib.contextmanager
def allow_missing_weights(keys: Iterable[str]) -> Iterator[None]:
    """Within the block, the full keys in ``keys`` may be missing from a load (they keep their values)."""
    token = _ALLOWED.set(_ALLOWED.get() | frozenset(keys))
    try:
        yield
    finally:
        _ALLOWED.reset(token)


def refuse_missing_weights(module: nn.Module) -> None:
    """Make every ``load_state_dict`` that reaches ``module`` refuse (:class:`MissingWeightsError`, also logged as
    an error) when any of ``module``'s own keys is missing from the state dict, naming them."""
    module.register_load_state_dict_pre_hook(_remember_prefix)
    module.register_load_state_dict_post_hook(_refuse_missing)


def _remember_prefix(module, state_dict, prefix, *args) -> None:
    module._vitpose_mm_load_prefix = prefix


def _refuse_missing(module: nn.Module, incompatible_keys) -> None:
    prefix = getattr(module, '_vitpose_mm_load_prefix', '')
    allowed = _ALLOWED.get()
    missing = [k for k in incompatible_keys.missing_keys
               if k.startswith(prefix) and k not in allowed and not k.endswith(_IGNORED_SUFFIXES)]
    if not missing:
        return
    message = (f'the checkpoint has no {", ".join(missing[:8])}{" ..." if len(missing) > 8 else ""} ({len(missing)} '
               f'of the {type(module).__name__} at {prefix.rstrip(".") or "the top"}): loading it would leave them '
               'at their initial (random) values. A loader with strict=False (mmengine\'s Runner, mmpose\'s '
               'tools/test.py and init_model) does not stop for that; this model does. Use a checkpoint that has '
               'them, or see what the file holds: python tools/convert_checkpoint.py CHECKPOINT out.pth --config '
               'CONFIG')
    MMLogger.get_current_instance().error(message)
    raise MissingWeightsError(message)
