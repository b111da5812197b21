# References: PyTorch docs "torch.onnx.export" (the torch.export-based exporter, dynamic_shapes), ONNX
# metadata_props; mmdeploy's top-down pose export (heatmaps out, decoding left to the runtime), read for behaviour.
"""Export a plain top-down ViTPose to ONNX: normalized crops (N, 3, H, W) -> heatmaps (N, K, H/4, W/4).

The graph is the model's ``tensor`` mode: backbone and head, nothing else. Outside it, as in mmpose: cutting the
crops (``TopdownAffine``), normalizing them, the flip test (a runtime runs the mirrored crops as well and averages)
and the decoding (``UDPHeatmap``, numpy). The batch axis is dynamic; height and width are fixed at the config's
input size. ``fp16`` casts the weights and the computation to float16 inside the graph; the input and the output stay
float32, so a runtime feeds and decodes the same arrays for every precision (decoding always in float32).
``int8`` is onnxruntime's dynamic quantization of the fp32 export (``onnxruntime.quantization.quantize_dynamic``):
the weights of every projection with a weight (the linear layers, the patch embedding, the final 1x1 convolution) are
stored as int8 per output channel and the activations are quantized at run time, batch by batch; the attention
products, the normalizations and the deconvolutions stay float32. It is the fast path of CPUs without native bf16
(docs/deploy.md: its speed and its accuracy on the demo model).

Exporter: ``torch.onnx.export(..., dynamo=True)``, the torch.export-based exporter (the default of torch >= 2.9; the
TorchScript one is deprecated). Both export the plain ViT (the class-token position row, the padding-2 patch
embedding, fused ``scaled_dot_product_attention``) and the window variant with padding, shift and pooling masks with
the same outputs (tried with torch 2.14.1), but the TorchScript tracer turns the window code's Python conditions on
tensors into constants with a warning ("Converting a tensor to a Python boolean ..."), while torch.export proves the
graph for a symbolic batch size (an export that would bake the batch size in fails instead of giving a wrong graph)
and its graphs are smaller (window 8x8 + shift + pool, one block: 101 nodes against 595). It is slower to export
(seconds instead of one).
"""
import copy
import logging
import os
import os.path as osp
import tempfile
from typing import Any, Dict, Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log

from . import metadata as md
from .source import ExportSource

INPUT_NAME = 'input'
OUTPUT_NAME = 'heatmaps'
PRECISIONS = ('fp32', 'fp16', 'int8')


class HeatmapGraph(nn.Module):
    """The exported computation: float32 (N, 3, H, W) normalized crops -> float32 (N, K, H/4, W/4) heatmaps.

    Args:
        model: a top-down pose estimator (``model(x, None, mode='tensor')`` gives the heatmaps).
        precision: ``fp32``, or ``fp16`` (a float16 copy of the model, the input cast in, the heatmaps cast out);
            ``int8`` traces the fp32 model (:func:`export_onnx` quantizes the file afterwards).
    """

    def __init__(self, model: nn.Module, precision: str = 'fp32'):
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
        self.dtype = torch.float16 if precision == 'fp16' else torch.float32
        # fp16: a copy, so that the caller's fp32 model keeps its exact weights
        self.model = (copy.deepcopy(model).to(self.dtype) if precision == 'fp16' else model).eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.to(self.dtype), None, mode='tensor').float()


def export_metadata(source: ExportSource, precision: str, config: str, checkpoint: Optional[str]) -> Dict[str, Any]:
    """The :mod:`.metadata` entry of an export of ``source``."""
    w, h = source.input_size
    codec = source.codec
    extra = {}
    test_pipeline = source.test_pipeline
    if source.data_mode == 'bottomup':  # every head output, the head config its predict is rebuilt from
        from .bottomup import fixed_size_pipeline
        extra = dict(data_mode='bottomup', outputs=list(source.output_names), head=source.head)
        test_pipeline = fixed_size_pipeline(test_pipeline, source.input_size)
    return dict(
        **extra, format=md.FORMAT, input=INPUT_NAME, output=source.output_names[0], precision=precision,
        input_size=[w, h], heatmap_size=list(codec.get('heatmap_size', (w // 4, h // 4))),
        data_preprocessor=source.data_preprocessor, codec=codec,
        test_cfg={k: source.test_cfg[k] for k in ('flip_test', 'flip_mode', 'shift_heatmap') if k in source.test_cfg},
        test_pipeline=test_pipeline, dataset_meta=md.dataset_meta_to_json(source.dataset_meta),
        source=dict(config=config, checkpoint=checkpoint, dataset=source.dataset, notes=source.notes,
                    exporter='torch.onnx.export(dynamo=True)', torch=torch.__version__))


def export_onnx(source: ExportSource, out: str, precision: str = 'fp32', batch: int = 2,
                meta: Optional[Dict[str, Any]] = None, opset: Optional[int] = None) -> str:
    """Write ``source.model`` to ``out`` as ONNX with a dynamic batch axis and the metadata ``meta``.

    Args:
        source: the model and its facts (:func:`vitpose_mm.deploy.build_export_source`).
        out: the ``.onnx`` path; its folder is created. Nothing is written when the export fails.
        precision: ``fp32``, ``fp16`` (see :class:`HeatmapGraph`) or ``int8`` (the fp32 export, then
            :func:`quantize_int8`).
        batch: the example batch size traced (any size runs afterwards; 2 so that no size-1 axis is specialised).
        meta: the metadata entry (default: :func:`export_metadata` without config and checkpoint names).
        opset: ONNX opset (default: the exporter's).

    Returns:
        ``out``. Raises ValueError for a precision or batch that is not accepted.
    """
    if batch < 2:
        raise ValueError(f'batch must be >= 2 (a traced batch of 1 may be specialised), got {batch}')
    w, h = source.input_size
    example = torch.randn(batch, 3, h, w)
    if source.data_mode == 'bottomup':
        from .bottomup import BottomupGraph
        graph = BottomupGraph(source.model, precision).eval()
        shapes = {'x': {0: torch.export.Dim('batch')}}
    else:
        graph = HeatmapGraph(source.model, precision).eval()
        shapes = {'x': {0: torch.export.Dim('batch')}}
    meta = meta if meta is not None else export_metadata(source, precision, '', None)
    out = osp.abspath(os.fspath(out))
    os.makedirs(osp.dirname(out), exist_ok=True)
    with torch.no_grad():
        program = torch.onnx.export(
            graph, (example, ), None, input_names=[INPUT_NAME], output_names=list(source.output_names),
            dynamo=True, dynamic_shapes=shapes, opset_version=opset, verbose=False)
    program.model.metadata_props[md.METADATA_KEY] = md.encode(meta)
    try:  # over 2 GB (ViTPose-H fp32) the weights go to OUT.data beside it
        if precision == 'int8':
            with tempfile.TemporaryDirectory() as folder:
                fp32 = osp.join(folder, 'fp32.onnx')
                program.save(fp32)
                quantize_int8(fp32, out)
        else:
            program.save(out)
    except BaseException:
        for path in (out, out + '.data'):
            if osp.isfile(path):
                os.remove(path)
        raise
    print_log(f'exported {out} ({precision}, {osp.getsize(out) / 2**20:.1f} MiB)', 'current', logging.INFO)
    return out


def quantize_int8(src: str, out: str) -> str:
    """onnxruntime's dynamic int8 quantization of the fp32 ONNX file ``src`` into ``out`` (metadata kept).

    Weights: signed int8, one scale per output channel; activations: unsigned int8, quantized at run time per tensor
    (``DynamicQuantizeLinear``). Only operators with a weight are quantized (``MatMul`` of the linear layers, ``Conv``);
    the attention's activation-by-activation products stay float32. Source: the onnxruntime documentation,
    "Quantize ONNX models" (dynamic quantization is the recommended mode for transformers).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    # onnxruntime 1.32 logs on the root logger that a pre-processing pass (quant_pre_process) should run first;
    # tried on ViTPose-B (one thread, batch 8): 2.74 img/s with it, 2.92 without, the same heatmaps. Not shown.
    hint = _DropMessage('pre-processing before quantization')
    logging.getLogger().addFilter(hint)
    try:
        quantize_dynamic(src, out, op_types_to_quantize=['MatMul', 'Conv'], per_channel=True,
                         weight_type=QuantType.QInt8)
    finally:
        logging.getLogger().removeFilter(hint)
    return out


class _DropMessage(logging.Filter):
    """Drops the log records whose message contains ``text``."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


__all__ = ['HeatmapGraph', 'quantize_int8', 'export_metadata', 'export_onnx', 'INPUT_NAME', 'OUTPUT_NAME', 'PRECISIONS']
