"""Write a converted config as a Python config file, with what was dropped listed on top."""
import os
import os.path as osp
from typing import Any, Dict, List, Tuple

from mmengine.config import Config

from .convert import convert_official_config
from .reader import read_official_config


def format_config(cfg: Dict[str, Any], dropped: List[str], source: str) -> str:
    """The config as mmengine formats it, after a header naming the source and every dropped item."""
    header = [f'# Converted from the official ViTPose (mmpose 0.x) config {osp.basename(source)} by',
              '# tools/convert_config.py (vitpose_mm). Model, data, schedule and optimizer are converted; not converted:']
    header += [f'#   - {line}' for line in dropped] or ['#   (nothing)']
    return '\n'.join(header) + '\n' + Config(cfg).pretty_text


def convert_config_file(src: str, dst: str) -> Tuple[Dict[str, Any], List[str]]:
    """Read ``src`` (an official config), write the mmpose 1.x config to ``dst``; return it and the dropped list.

    Raises:
        FileNotFoundError: no ``src``. FileExistsError: ``dst`` exists. ValueError: see ``convert_official_config``.
    """
    if not osp.isfile(src):
        raise FileNotFoundError(f'config not found: {src}')
    if osp.exists(dst):
        raise FileExistsError(f'{dst} exists; not overwriting it')
    cfg, dropped = convert_official_config(read_official_config(src))
    text = format_config(cfg, dropped, src)
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    with open(dst, 'w') as f:
        f.write(text)
    return cfg, dropped
