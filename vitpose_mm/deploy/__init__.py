"""Deployment: ONNX export of a top-down ViTPose (also a ViTPose+ dataset with its expert folded in) or of a bottom-up
one (the network; grouping and decoding stay in Python), the parity check against torch, and onnxruntime runners
(docs/deploy.md).

Not imported by ``import vitpose_mm``; onnx, onnxscript and onnxruntime are needed only here.
"""
from .bottomup import OnnxBottomupModel
from .metadata import METADATA_KEY, read_metadata
from .onnx import HeatmapGraph, export_metadata, export_onnx
from .runtime import OnnxPoseModel, build_onnx_runner, create_session
from .source import ExportSource, build_export_source
from .verify import TOLERANCES, ParityReport, check_parity

__all__ = ['ExportSource', 'build_export_source', 'HeatmapGraph', 'export_metadata', 'export_onnx', 'METADATA_KEY',
           'read_metadata', 'OnnxPoseModel', 'build_onnx_runner', 'create_session', 'TOLERANCES', 'ParityReport',
           'check_parity', 'OnnxBottomupModel']
