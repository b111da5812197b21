"""Small helpers shared by the tools."""
import os
import os.path as osp
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from mmengine.config import Config

PACKAGE_ROOT = osp.dirname(osp.abspath(__file__))


def configs_dir() -> str:
    """The shipped configs: ``vitpose_mm/.mim/configs`` in an installed wheel, the repository's in a checkout."""
    for candidate in (osp.join(PACKAGE_ROOT, '.mim', 'configs'), osp.join(osp.dirname(PACKAGE_ROOT), 'configs')):
        if osp.isdir(candidate):
            return candidate
    raise FileNotFoundError(f'no configs folder found next to {PACKAGE_ROOT}')


def find_config(name: str) -> str:
    """``name`` if it is a file, else the shipped config of that file name (with or without ``.py``)."""
    if osp.isfile(name):
        return name
    base = osp.basename(name)
    base = base if base.endswith('.py') else base + '.py'
    root = configs_dir()
    for dirpath, _, files in os.walk(root):
        if base in files and '_base_' not in dirpath:
            return osp.join(dirpath, base)
    raise FileNotFoundError(f'config not found: {name} (neither a file nor a config name under {root})')


def load_config(name: str, options: Optional[dict] = None) -> 'Config':
    """The mmengine config ``name`` (a file, or a shipped config name: :func:`find_config`) with ``options`` (what
    ``--cfg-options`` gives, ``{'a.b': value}``) merged in.

    Raises:
        FileNotFoundError: neither a file nor a shipped config name.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(find_config(name))
    if options:
        cfg.merge_from_dict(options)
    return cfg


def error_message(error: BaseException) -> str:
    """The message of ``error`` for a command's ``error: ...`` line: a ``KeyError``'s own text (its ``str()`` is the
    text in quotes), any other exception's ``str()``."""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error)


def check_model_types(cfg: 'Config') -> None:
    """Refuse a config whose model names a module the installed mmpose (with this package) does not register, before
    building it: ``model.type``, its ``backbone``/``neck``/``head`` and the head's ``decoder`` (a codec).

    Raises:
        ValueError: naming the entry (e.g. ``model.head.type='CIDHeadV2'``), the installed mmpose version and the
            registered modules of that kind (heads, codecs ...).
    """
    import mmpose
    from mmpose.registry import KEYPOINT_CODECS, MODELS
    model = cfg.get('model') or {}
    head = model.get('head') or {}
    entries = [('model', model, MODELS, 'Estimator'), ('model.backbone', model.get('backbone'), MODELS, None),
               ('model.neck', model.get('neck'), MODELS, None), ('model.head', head, MODELS, 'Head'),
               ('model.head.decoder', head.get('decoder') if isinstance(head, dict) else None, KEYPOINT_CODECS, '')]
    for where, node, registry, suffix in entries:
        name = node.get('type') if isinstance(node, dict) else None
        if not isinstance(name, str) or registry.get(name) is not None:
            continue
        known = '' if suffix is None else \
            f'; the {registry.name} it has: {sorted(n for n in registry.module_dict if n.endswith(suffix))}'
        raise ValueError(f'{where}.type={name!r} is not registered in the installed mmpose {mmpose.__version__} '
                         f'(nor by vitpose_mm){known}')
