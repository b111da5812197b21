"""ViTPose and ViTPose+ for mmpose 1.x.

Importing the package registers its modules in mmpose's and mmengine's registries
(``custom_imports=dict(imports=['vitpose_mm'])``) and changes nothing else in the process. The satellites (inference
API, ONNX deploy, benchmark, config converter, synthetic data, MAE pre-training) are imported by the commands and
configs that use them.
"""
from . import checkpoints, datasets, engine, evaluation, models  # noqa: F401  (registration)

__version__ = '0.1.0'
