"""Deployment: ONNX export of a top-down ViTPose (also a ViTPose+ dataset with its expert folded in), the parity
check against torch, and an onnxruntime runner (docs/deploy.md).

Not imported by ``import vitpose_mm``; onnx, onnxscript and onnxruntime are needed only here.
"""
from .metadata import METADATA_KEY, read_metadata
from .onnx import HeatmapGraph, export_metadata, export_onnx
from .runtime import OnnxPoseModel, build_onnx_runner, create_session
from .source import ExportSource, build_export_source
from .verify import TOLERANCES, ParityReport, check_parity

__all__ = ['ExportSource', 'build_export_source', 'HeatmapGraph', 'export_metadata', 'export_onnx', 'METADATA_KEY',
           'read_metadata', 'OnnxPoseModel', 'build_onnx_runner', 'create_session', 'TOLERANCES', 'ParityReport',
           'check_parity']
