"""ViTPose and ViTPose+ for mmpose 1.x.

Importing the package registers its modules in mmpose's registries (``custom_imports=dict(imports=['vitpose_mm'])``)
lets ``torch.load(weights_only=True)`` read the checkpoints mmengine's runner writes, and lets mmengine's
``--launcher pytorch`` start on machines without CUDA (gloo).
"""
from . import checkpoints, datasets, engine, evaluation, models  # noqa: F401  (registration)
from .engine import allow_cpu_distributed, allow_mmengine_checkpoints

__version__ = '0.1.0'

allow_mmengine_checkpoints()
allow_cpu_distributed()  # `--launcher pytorch` on machines without CUDA (gloo); see engine/dist.py
