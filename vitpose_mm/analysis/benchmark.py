# References: mmpose 1.x configs td-hm_ViTPose-*_8xb64-210e_coco-256x192.py; HF transformers VitPoseForPoseEstimation.
"""Side-by-side speed of ViTPose implementations: the rows of ``tools/benchmark.py`` (docs/speed.md).

An implementation is a name, the modes it runs in and a builder ``build(size, mode, device) -> forward`` where
``forward`` maps a (N, 3, 256, 192) float32 batch of crops to (N, 17, 64, 48) heatmaps (any float dtype). Four are
registered: ``vitpose_mm`` (this package, through ``enable_fast_inference``), ``mmpose`` (mmpose 1.x's own ViTPose
config: mmpretrain's ``VisionTransformer`` + ``HeatmapHead``), ``onnxruntime`` (this package's model exported by
``vitpose_mm.deploy``) and ``hf`` (HF transformers, in its own environment, see ``hf_worker.py``). Another one is one
more :func:`register_implementation` call.
All models have random weights (seed 0) and run without flip test; the same crops go through every row.
"""
import json
import os.path as osp
import subprocess
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from vitpose_mm.models.pose_estimators.fast_inference import DTYPES, enable_fast_inference
from vitpose_mm.utils import find_config
from .timing import peak_memory_bytes, time_calls

SIZES = dict(S='small', B='base', L='large', H='huge')
INPUT_HW = (256, 192)
Forward = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class Implementation:
    """``modes(device)`` lists the modes, best last; ``build(size, mode, device)`` returns the forward function."""
    name: str
    modes: Callable[[torch.device], Sequence[str]]
    build: Callable[[str, str, torch.device], Forward]


IMPLEMENTATIONS: Dict[str, Implementation] = {}


def register_implementation(name: str, modes: Callable[[torch.device], Sequence[str]],
                            build: Callable[[str, str, torch.device], Forward]) -> None:
    """Add a row source to the benchmark (see the module docstring).

    Raises:
        ValueError: ``name`` is taken.
    """
    if name in IMPLEMENTATIONS:
        raise ValueError(f'benchmark implementation {name!r} is registered already')
    IMPLEMENTATIONS[name] = Implementation(name, modes, build)


def crops(batch: int, device: torch.device) -> torch.Tensor:
    """The benchmark's input: ``batch`` normalised random crops (seed 0), the same for every row."""
    return torch.randn(batch, 3, *INPUT_HW, generator=torch.Generator().manual_seed(0)).to(device)


# ---- the estimators of mmpose configs, random weights -------------------------------------------------------------
def mmpose_config(size: str) -> str:
    import mmpose
    return osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', 'body_2d_keypoint', 'topdown_heatmap', 'coco',
                    f'td-hm_ViTPose-{SIZES[size]}_8xb64-210e_coco-256x192.py')


def vitpose_mm_config(size: str) -> str:
    return find_config(f'td-hm_ViTPose-{SIZES[size]}_8xb64-210e_coco-256x192.py')


def build_estimator(config: str, device: torch.device, **backbone: object) -> nn.Module:
    """The config's pose estimator with random weights (seed 0; pre-training ``init_cfg`` dropped) in eval mode."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    cfg = Config.fromfile(config)
    init_default_scope('mmpose')
    cfg.model.backbone.pop('init_cfg', None)
    cfg.model.backbone.update(backbone)
    torch.manual_seed(0)
    return MODELS.build(cfg.model).to(device).eval()


def heatmap_forward(model: nn.Module, autocast_dtype: Optional[torch.dtype] = None,
                    input_dtype: Optional[torch.dtype] = None) -> Forward:
    """``crops -> heatmaps`` of an mmpose top-down estimator without grad, optionally under autocast."""
    device_type = next(model.parameters()).device.type

    def forward(x: torch.Tensor) -> torch.Tensor:
        context = torch.autocast(device_type, autocast_dtype) if autocast_dtype else nullcontext()
        with torch.no_grad(), context:
            return model.head.forward(model.extract_feat(x if input_dtype is None else x.to(input_dtype)))
    return forward


def _half(device: torch.device) -> Tuple[str, ...]:
    return ('fp16', 'bf16') if device.type == 'cuda' else ('bf16', )


def vitpose_mm_modes(device: torch.device) -> Tuple[str, ...]:
    return ('fp32', 'fp32+compile', *[f'{h}-autocast' for h in _half(device)], *_half(device), 'bf16+compile')


def build_vitpose_mm(size: str, mode: str, device: torch.device) -> Forward:
    """This package: ``fp32``, ``bf16``/``fp16`` (``enable_fast_inference``: the model converted), ``*-autocast``
    (``torch.autocast`` over the fp32 model) and ``+compile`` (``torch.compile``, inductor)."""
    model = build_estimator(vitpose_mm_config(size), device)
    if mode.endswith('-autocast'):
        return heatmap_forward(model, autocast_dtype=DTYPES[mode.split('-')[0]])
    precision, _, compiled = mode.partition('+')
    enable_fast_inference(model, precision, compile=bool(compiled))
    return heatmap_forward(model)


def mmpose_modes(device: torch.device) -> Tuple[str, ...]:
    return ('fp32', *[f'{h}-autocast' for h in _half(device)], *_half(device))


def build_mmpose(size: str, mode: str, device: torch.device) -> Forward:
    """mmpose 1.x's own ViTPose config: ``fp32``, ``*-autocast`` and the model converted to ``bf16``/``fp16``
    (``torch.compile`` of it fails on torch 2.14)."""
    model = build_estimator(mmpose_config(size), device)
    if mode.endswith('-autocast'):
        return heatmap_forward(model, autocast_dtype=DTYPES[mode.split('-')[0]])
    return heatmap_forward(model.to(DTYPES[mode]), input_dtype=DTYPES[mode])


def onnxruntime_modes(device: torch.device) -> Tuple[str, ...]:
    return ('fp32', 'fp16') if device.type == 'cuda' else ('fp32', 'int8')


def build_onnxruntime(size: str, mode: str, device: torch.device) -> Forward:
    """This package's model (the ``vitpose_mm`` row's random weights) exported by ``vitpose_mm.deploy`` (fp32,
    fp16 inside the graph, or int8: onnxruntime's dynamic quantization, CPU only) and run by onnxruntime: its CUDA provider on CUDA, else its CPU provider with torch's
    thread count. The exported file lives in a temporary folder as long as the row."""
    from vitpose_mm.deploy import HeatmapGraph, build_onnx_runner, export_onnx
    from vitpose_mm.deploy.source import ExportSource
    model = build_estimator(vitpose_mm_config(size), torch.device('cpu'))
    folder = tempfile.TemporaryDirectory()
    source = ExportSource(model, None, {}, INPUT_HW[::-1], {}, {}, {}, [], None, [])
    path = export_onnx(source, osp.join(folder.name, 'model.onnx'), precision=mode, meta={})
    providers = ['CUDAExecutionProvider'] if device.type == 'cuda' else ['CPUExecutionProvider']
    run = build_onnx_runner(path, providers, num_threads=torch.get_num_threads())

    def forward(x: torch.Tensor, _keep=(folder, HeatmapGraph)) -> torch.Tensor:
        return torch.from_numpy(run(x.detach().float().cpu().numpy())).to(x.device)
    return forward


register_implementation('vitpose_mm', vitpose_mm_modes, build_vitpose_mm)
register_implementation('mmpose', mmpose_modes, build_mmpose)
register_implementation('onnxruntime', onnxruntime_modes, build_onnxruntime)


# ---- rows: what the run loop times ---------------------------------------------------------------------------------
class Row:
    """One implementation in one mode: ``time(batch, reps)`` -> seconds per call; ``check(batch)`` -> heatmap
    difference to the same implementation's fp32 (``max_abs``, ``peak_fp32``) and peak memory of a call."""
    impl: str
    mode: str

    def time(self, batch: int, reps: int) -> List[float]:
        raise NotImplementedError

    def check(self, batch: int) -> dict:
        raise NotImplementedError


class LocalRow(Row):
    def __init__(self, impl: str, mode: str, forward: Forward, device: torch.device,
                 reference: Optional['LocalRow'] = None):
        self.impl, self.mode, self.forward, self.device, self.reference = impl, mode, forward, device, reference

    def time(self, batch: int, reps: int) -> List[float]:
        x = crops(batch, self.device)
        return time_calls(lambda: self.forward(x), reps, self.device)

    def check(self, batch: int) -> dict:
        x = crops(batch, self.device)
        out = self.forward(x).float()
        ref = out if self.reference is None else self.reference.forward(x).float()
        return dict(max_abs=float((out - ref).abs().max()), peak_fp32=float(ref.abs().max()),
                    memory=peak_memory_bytes(lambda: self.forward(x), self.device))


class HFWorker:
    """``hf_worker.py`` running in ``python`` (the HF environment), started with the shared crops."""

    def __init__(self, python: str, threads: int, device: torch.device, max_batch: int):
        self.tmp = tempfile.TemporaryDirectory()
        inputs = osp.join(self.tmp.name, 'crops.npy')
        np.save(inputs, crops(max_batch, torch.device('cpu')).numpy())
        script = osp.join(osp.dirname(osp.abspath(__file__)), 'hf_worker.py')
        self.proc = subprocess.Popen([python, script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = self.ask(op='init', threads=threads, device=str(device), inputs=inputs)

    def ask(self, **request) -> dict:
        self.proc.stdin.write(json.dumps(request) + '\n')
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f'the HF worker stopped (exit code {self.proc.wait()})')
        reply = json.loads(line)
        if 'error' in reply:
            raise RuntimeError(f"HF worker: {reply['error']}")
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write(json.dumps(dict(op='quit')) + '\n')
            self.proc.stdin.flush()
            self.proc.wait(timeout=60)
        self.tmp.cleanup()


class WorkerRow(Row):
    def __init__(self, worker: HFWorker, size: str, mode: str):
        self.impl, self.mode, self.worker, self.size = 'hf', mode, worker, size

    def time(self, batch: int, reps: int) -> List[float]:
        return self.worker.ask(op='time', size=self.size, mode=self.mode, batch=batch, reps=reps)['times']

    def check(self, batch: int) -> dict:
        return self.worker.ask(op='check', size=self.size, mode=self.mode, batch=batch)


def hf_modes(device: torch.device) -> Tuple[str, ...]:
    return ('fp32', *_half(device))


def build_rows(size: str, device: torch.device, implementations: Sequence[str], modes: Dict[str, Sequence[str]],
               worker: Optional[HFWorker]) -> List[Row]:
    """The rows of one model size: each implementation's fp32 row first (the others' heatmap reference)."""
    rows: List[Row] = []
    for impl in implementations:
        if impl == 'hf':
            rows += [WorkerRow(worker, size, m) for m in modes['hf']] if worker is not None else []
            continue
        build = IMPLEMENTATIONS[impl].build
        reference = None
        for mode in modes[impl]:
            row = LocalRow(impl, mode, build(size, mode, device), device, reference)
            reference = reference or row
            rows.append(row)
    return rows


__all__ = ['IMPLEMENTATIONS', 'Implementation', 'register_implementation', 'build_rows', 'crops', 'HFWorker',
           'LocalRow', 'WorkerRow', 'Row', 'build_estimator', 'heatmap_forward', 'hf_modes']
