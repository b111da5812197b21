"""ViTPose and ViTPose+ for mmpose 1.x.

Importing the package registers its modules in mmpose's registries (``custom_imports=dict(imports=['vitpose_mm'])``)
and lets ``torch.load(weights_only=True)`` read the checkpoints mmengine's runner writes.
"""
from . import datasets, engine, evaluation, models  # noqa: F401  (registration)
from .engine import allow_mmengine_checkpoints

__version__ = '0.1.0'

allow_mmengine_checkpoints()
