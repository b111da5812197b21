"""The steps of ``tools/export_onnx.py``: config + checkpoint -> ``.onnx`` -> the onnxruntime parity check."""
import logging
import os.path as osp
import time
from typing import Optional, Sequence, Tuple

from mmengine.logging import print_log

from .onnx import PRECISIONS, export_metadata, export_onnx
from .runtime import check_providers
from .source import ExportSource, build_export_source
from .verify import ParityReport, check_parity


def check_output_path(out: str) -> None:
    """ValueError when ``out`` cannot become a file: it is a folder, or a file stands where a folder of its path
    would be created."""
    path = osp.abspath(out)
    if osp.isdir(path):
        raise ValueError(f'out: {out} is a folder; give the path of the .onnx file to write')
    parent = osp.dirname(path)
    while not osp.exists(parent):
        parent = osp.dirname(parent)
    if not osp.isdir(parent):
        raise ValueError(f'out: {parent} is a file, so {out} cannot be created under it')


def export_and_verify(config: str, checkpoint: Optional[str], out: str, dataset: Optional[str] = None,
                      precision: str = 'fp32', batch: int = 2, opset: Optional[int] = None, verify: bool = True,
                      verify_batch: int = 4, providers: Sequence[str] = ('CPUExecutionProvider', ),
                      cfg_options: Optional[dict] = None) -> Tuple[ExportSource, Optional[ParityReport]]:
    """Export ``config`` + ``checkpoint`` to ``out`` and, with ``verify``, check it against torch (a bottom-up config:
    every head output, and the people decoded from them, :mod:`vitpose_mm.deploy.verify_bottomup`).

    Arguments as ``tools/export_onnx.py`` (``docs/deploy.md``); the steps are logged. Bad arguments (precision, batch,
    output path, providers) are refused before the model is built.

    Returns:
        the exported source and the parity report (None without ``verify``); ``report.passed`` says whether it holds.

    Raises:
        FileNotFoundError, ValueError, CheckpointMismatchError: bad input, nothing written (see
        :func:`build_export_source`). RuntimeError: the exporter refused the model.
    """
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
    if batch < 2:
        raise ValueError(f'batch must be >= 2 (a traced batch of 1 may be specialised), got {batch}')
    check_output_path(out)
    if verify:  # say so before the slow export
        check_providers(providers)
    start = time.time()
    print_log(f'building {config} and loading {checkpoint or "random weights"} ...', 'current', logging.INFO)
    source = build_export_source(config, checkpoint, dataset, cfg_options)
    for note in source.notes:
        print_log(f'  {note}', 'current', logging.INFO)
    w, h = source.input_size
    print_log(f'exporting ({precision}, {source.data_mode}, input (N, 3, {h}, {w}) -> {", ".join(source.output_names)}, '
              f'{source.dataset_meta["num_keypoints"]} keypoints of {source.dataset_meta.get("dataset_name")}) ...',
              'current', logging.INFO)
    meta = export_metadata(source, precision, config, checkpoint)
    export_onnx(source, out, precision, batch, meta, opset)
    print_log(f'wrote {out} ({osp.getsize(out) / 2**20:.1f} MiB) in {time.time() - start:.0f} s', 'current',
              logging.INFO)
    if not verify:
        return source, None
    if precision == 'fp16' and 'CUDAExecutionProvider' not in providers:
        print_log('fp16 is meant for CUDA execution providers; checking it on the CPU one (supported, slower)',
                  'current', logging.INFO)
    if source.data_mode == 'bottomup':
        from .verify_bottomup import check_parity_bottomup
        report = check_parity_bottomup(source.model, out, meta, providers=providers)
    else:
        report = check_parity(source.model, out, meta, verify_batch, providers=providers)
    for line in str(report).splitlines():
        print_log(line, 'current', logging.INFO)
    return source, report


__all__ = ['check_output_path', 'export_and_verify']
