"""The checkpoint converter's driver (conversion only, not imported by ``import vitpose_mm``): read a file of any
public layout, convert, check, write, report.

``tools/convert_checkpoint.py`` is its command line (argparse plus :func:`convert_file`); the conversion itself is
:func:`vitpose_mm.checkpoints.conversion.convert`. Layouts, examples and what is dropped: docs/checkpoints.md.
"""
import os
import os.path as osp
import re
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

from .arch import STANDARD_SIZES
from .conversion import Conversion, convert, fit_to_model
from .io import atomic_path, load_file, recorded_grid, state_dict_of
from .layouts import HF, detect_layout, from_vitpose_mm


@dataclass
class Source:
    """A checkpoint as read: its tensors, where from, and an HF ``config.json`` when it has one."""
    state_dict: Dict[str, torch.Tensor]
    path: str
    hf_config: Optional[dict] = None
    grid: Optional[Tuple[int, int]] = None  # recorded in the file's meta (this package's checkpoints)


def read_source(path: str) -> Source:
    """Read a checkpoint file or an HF ``save_pretrained`` folder (with the ``config.json`` beside HF weights);
    never unpickles code."""
    from .hf import read_hf_config, read_hf_folder
    path = os.fspath(path)
    if osp.isdir(path):
        sd, cfg, _ = read_hf_folder(path)
        return Source(sd, path, cfg)
    obj = load_file(path)
    sd = state_dict_of(obj, path)
    beside = osp.join(osp.dirname(osp.abspath(path)), 'config.json')
    cfg = read_hf_config(beside) if any(k.startswith('backbone.encoder.layer.') for k in sd) and \
        osp.isfile(beside) else None
    return Source(sd, path, cfg, recorded_grid(obj))


def convert_checkpoint(path: Union[str, Source], layout: str = 'auto', dataset: Optional[str] = None,
                       keep_experts: bool = False, backbone: Optional[nn.Module] = None,
                       src_grid: Optional[Sequence[int]] = None, patch_padding: str = 'pad') -> Conversion:
    """Read (unless ``path`` is a :class:`Source` already) and convert a checkpoint file or HF folder with
    :func:`~vitpose_mm.checkpoints.conversion.convert` (no target model: fit it with ``fit_to_model``).

    Pre-training weights (layout ``mae``) need ``backbone`` (a ``ViT``): they become a backbone-only checkpoint
    (``backbone.*``) fitted to its grid and patch size. ``keep_experts``: keep every ViTPose+ expert (HF MoE
    export) when no dataset is given.
    """
    src = path if isinstance(path, Source) else read_source(path)
    name = detect_layout(list(src.state_dict)) if layout == 'auto' else layout
    if name == 'mae':
        holder = nn.Module() if backbone is not None else None
        if holder is not None:
            holder.backbone = backbone
        conv = convert(src.state_dict, holder, name, dataset, src.hf_config, src.grid, src_grid, patch_padding,
                       source=src.path)
        conv.notes.append('backbone only: load it with init_cfg=dict(type="ViTPosePretrained", checkpoint=...) in '
                          'the backbone config')
        return conv
    from .conversion import convert_state_dict
    return convert_state_dict(src.state_dict, name, dataset, src.hf_config, keep_experts, src.path, src_grid,
                              src.grid)


def save_checkpoint(conv: Conversion, path: str) -> None:
    """Write an mmengine checkpoint ``{'meta': ..., 'state_dict': ...}``; a failure leaves no partial file."""
    with atomic_path(path) as tmp:
        torch.save({'meta': conv.meta(), 'state_dict': OrderedDict(conv.state_dict)}, tmp)


def save_hf(conv: Conversion, folder: str, mean: Optional[Sequence[float]] = None,
            std: Optional[Sequence[float]] = None) -> dict:
    """Write ``conv`` as an HF ``save_pretrained`` folder (``config.json``, ``model.safetensors`` and the
    ``preprocessor_config.json`` of its crop size, ``mean`` and ``std``, default ImageNet's:
    :func:`~vitpose_mm.checkpoints.hf.hf_preprocessor_config_for`); returns the ``config.json`` written."""
    from .hf import IMAGENET_MEAN_255, IMAGENET_STD_255, hf_config_for, hf_preprocessor_config_for, save_hf_folder
    config = hf_config_for(conv.arch)
    preprocessor = hf_preprocessor_config_for(conv.arch, IMAGENET_MEAN_255 if mean is None else mean,
                                              IMAGENET_STD_255 if std is None else std)
    save_hf_folder(folder, from_vitpose_mm(conv.state_dict, HF), config, preprocessor=preprocessor)
    return config

Log = Callable[[str], None]


def _log_current(msg: str) -> None:
    print_log(msg, 'current')


def build_model(config: str, options: Optional[dict] = None) -> Tuple[torch.nn.Module, str]:
    """The model of ``config`` (a file or a shipped config name) with ``options`` merged, and the config's path."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    from vitpose_mm.utils import find_config, load_config
    path = find_config(config)
    cfg = load_config(path, options)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    return MODELS.build(cfg.model), path


def default_mae_config(sd: Dict[str, torch.Tensor]) -> str:
    """The shipped config of the released size whose width and depth these pre-training weights have.

    Raises:
        ValueError: when width and depth are not a released ViTPose size (the caller must give a config).
    """
    width = next((v.shape[-1] for k, v in sd.items() if k in ('pos_embed', 'backbone.pos_embed')), None)
    depth = len({m.group(1) for k in sd for m in [re.match(r'(?:backbone\.)?(?:blocks|layers)\.(\d+)\.', k)] if m})
    if (width, depth) not in STANDARD_SIZES:
        raise ValueError(f'pre-training weights of a {width}-d, {depth}-block ViT, not a released size: give the '
                         'vitpose_mm config to convert them for (--config)')
    return f'td-hm_ViTPose-{STANDARD_SIZES[(width, depth)][0]}_8xb64-210e_coco-256x192.py'


def summarize_dropped(dropped: Dict[str, str], verbose: bool, log: Log = _log_current) -> None:
    """Report the dropped keys (key -> reason): every key when ``verbose``, else one line per reason."""
    if not dropped:
        log('dropped: nothing')
        return
    log(f'dropped {len(dropped)} keys:')
    if verbose:
        for key, reason in dropped.items():
            log(f'  {key}: {reason}')
        return
    groups = defaultdict(list)
    for key, reason in dropped.items():
        groups[reason].append(key)
    for reason, keys in groups.items():
        log(f'  {len(keys):4d} x {summarize_keys(keys)}: {reason}')


def summarize_keys(keys: Sequence[str]) -> str:
    """``backbone.blocks.N.mlp.experts.3.*`` for the keys of one expert in every block, and the like."""
    if len(keys) == 1:
        return keys[0]
    patterns = sorted({re.sub(r'(blocks|layer)\.\d+\.', r'\1.N.', k.rsplit('.', 1)[0]) + '.*' for k in keys})
    if len(patterns) <= 2:
        return ', '.join(patterns)
    common = osp.commonprefix([p.split('.') for p in patterns])
    return '.'.join(common) + '.*' if common else ', '.join(patterns[:2]) + ', ...'


def convert_file(src_path: str, dst: str, src_format: str = 'auto', dataset: Optional[str] = None,
                 to: str = 'vitpose_mm', config: Optional[str] = None, cfg_options: Optional[dict] = None,
                 src_grid: Optional[Sequence[int]] = None, patch_padding: str = 'pad', verbose: bool = False,
                 log: Log = _log_current) -> None:
    """Convert the checkpoint ``src_path`` (file or HF folder) and write ``dst``; all or nothing.

    Args:
        src_path: .pth/.pt/.safetensors file or HF save_pretrained folder, read without running code from it.
        dst: a checkpoint file (``to='vitpose_mm'``) or a new or empty folder (``to='hf'``).
        src_format: a layout of ``vitpose_mm.checkpoints.LAYOUTS``, or ``'auto'`` (detected from the keys).
        dataset: ViTPose+ only: the dataset whose expert and head to keep.
        to: ``'vitpose_mm'`` (mmengine checkpoint) or ``'hf'`` (config.json + model.safetensors).
        config: vitpose_mm config (file or shipped name) to check the result against (every key and shape).
        cfg_options: entries merged into ``config`` (needs ``config``).
        src_grid: (rows, columns) position grid of the source when the file does not record it.
        patch_padding: ``'pad'``, ``'bilinear'`` or ``'bicubic'``, for a patch kernel of another size.
        verbose: list every dropped and mismatched key.
        log: where the report lines go (default: the current MMLogger).

    Raises:
        ValueError, KeyError, OSError (FileExistsError, IsADirectoryError), RuntimeError: the input does not fit;
        nothing is written then.
    """
    if to == 'hf' and osp.exists(dst) and (not osp.isdir(dst) or os.listdir(dst)):
        raise FileExistsError(f'--to hf writes a new folder, but {dst} exists and is not empty')
    if to == 'vitpose_mm' and osp.isdir(dst):
        raise IsADirectoryError(f'{dst} is a folder; --to vitpose_mm writes a checkpoint file')
    log(f'reading {src_path}')
    src = read_source(src_path)
    layout = detect_layout(list(src.state_dict)) if src_format == 'auto' else src_format
    log(f'{len(src.state_dict)} tensors, layout: {layout}' + (' (detected)' if src_format == 'auto' else '') +
        (', with HF config.json' if src.hf_config else ''))
    if layout == 'mae' and to == 'hf':
        raise ValueError('pre-training weights have no pose head: HF VitPoseForPoseEstimation needs one')
    given_config = config
    config = config or (default_mae_config(src.state_dict) if layout == 'mae' else None)
    model = None
    if config:
        model, config = build_model(config, cfg_options)
        log(f'target model from {config}')
    elif cfg_options:
        raise ValueError('--cfg-options needs --config')
    conv = convert_checkpoint(src, layout, dataset, keep_experts=to == 'hf',
                              backbone=model.backbone if model is not None and layout == 'mae' else None,
                              src_grid=src_grid, patch_padding=patch_padding)
    if model is not None:
        fit_to_model(conv, model, patch_padding, config=config, verbose=verbose)
        log(f'checked against the model: all {len(conv.state_dict)} tensors have its names and shapes')
    for note in conv.notes:
        log(f'note: {note}')
    summarize_dropped(conv.dropped, verbose, log)
    log(f'architecture: {conv.arch.describe()}')
    for what in conv.arch.assumed:
        log(f'  assumed (not in the weights): {what}')
    if to == 'hf':
        norm = {}
        preprocessor = getattr(model, 'data_preprocessor', None)
        if preprocessor is not None and getattr(preprocessor, 'mean', None) is not None:  # the config's own
            norm = dict(mean=preprocessor.mean.flatten().tolist(), std=preprocessor.std.flatten().tolist())
        save_hf(conv, dst, **norm)
        log(f'wrote HF folder {dst} (config.json, model.safetensors, preprocessor_config.json): '
            f'VitPoseForPoseEstimation.from_pretrained({dst!r})')
        return
    save_checkpoint(conv, dst)
    size = osp.getsize(dst) / 2**20
    log(f'wrote {dst} ({len(conv.state_dict)} tensors, {size:.1f} MiB)')
    if conv.backbone_only:
        log(f'use it as backbone init: --cfg-options model.backbone.init_cfg.checkpoint={dst}')
        return
    opts = conv.arch.cfg_options_text()
    cfg_name = osp.basename(config) if config else conv.arch.config_name()
    log(f'test it: mim test vitpose_mm {cfg_name} --checkpoint {dst}' +
        (f' --cfg-options {opts}' if opts and not given_config else ''))
    if conv.arch.num_heads is None:
        log('warning: the number of attention heads is not in the weights; set model.backbone.num_heads')
