"""Official ViTPose (mmpose 0.x) config files -> mmpose 1.x configs for this package (``tools/convert_config.py``)."""
from .convert import convert_official_config
from .reader import BaseRef, read_official_config
from .writer import convert_config_file, format_config

__all__ = ['read_official_config', 'convert_official_config', 'format_config', 'convert_config_file', 'BaseRef']
