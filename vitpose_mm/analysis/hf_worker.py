"""HF transformers' ``VitPoseForPoseEstimation`` measured for ``tools/benchmark.py``, in HF's own environment.

transformers cannot be imported beside mmpretrain 1.2.0, so the benchmark starts this file with ``.venv-hf``'s Python
(``tools/setup_hf_env.sh``) and talks to it in JSON lines over stdin/stdout, one request per line, so that its
repetitions interleave with the in-process ones. It imports torch, transformers and ``timing.py`` only. Requests:

- ``{"op": "init", "threads": 2, "device": "cpu", "inputs": "x.npy"}``: the shared input crops (N, 3, 256, 192).
- ``{"op": "time", "size": "B", "mode": "fp32", "batch": 8, "reps": 1}`` -> ``{"times": [seconds, ...]}``.
- ``{"op": "check", "size": "B", "mode": "bf16", "batch": 8}`` -> ``{"max_abs": .., "peak_fp32": .., "memory": ..}``:
  the heatmaps' max-abs difference to fp32 on the same crops, the fp32 heatmaps' max, peak memory of one call.
- ``{"op": "quit"}``.
Modes: ``fp32`` and ``bf16`` (the model converted to bfloat16; fp16 too on CUDA). Random weights (seed 0), the
classic decoder, ViTPose's S/B/L/H widths and depths.
"""
import json
import os.path as osp
import sys

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from timing import peak_memory_bytes, time_calls  # noqa: E402

SIZES = dict(S=(384, 12, 12), B=(768, 12, 12), L=(1024, 24, 16), H=(1280, 32, 16))  # width, depth, heads
DTYPES = dict(fp32=torch.float32, bf16=torch.bfloat16, fp16=torch.float16)


class Worker:
    def __init__(self) -> None:
        self.models = {}
        self.reference = {}

    def init(self, threads: int, device: str, inputs: str) -> dict:
        torch.set_num_threads(threads)
        self.device = torch.device(device)
        self.inputs = torch.from_numpy(np.load(inputs)).to(self.device)
        return dict(torch=torch.__version__, threads=torch.get_num_threads())

    def model(self, size: str, mode: str):
        if (size, mode) not in self.models:
            from transformers import VitPoseBackboneConfig, VitPoseConfig, VitPoseForPoseEstimation
            width, depth, heads = SIZES[size]
            torch.manual_seed(0)
            backbone = VitPoseBackboneConfig(hidden_size=width, num_hidden_layers=depth, num_attention_heads=heads,
                                             out_indices=[depth], layer_norm_eps=1e-6)
            model = VitPoseForPoseEstimation(VitPoseConfig(backbone_config=backbone, num_labels=17)).eval()
            self.models[(size, mode)] = model.to(self.device, DTYPES[mode])
        return self.models[(size, mode)]

    def forward(self, size: str, mode: str, batch: int) -> torch.Tensor:
        x = self.inputs[:batch].to(DTYPES[mode])
        with torch.no_grad():
            return self.model(size, mode)(pixel_values=x).heatmaps.float()

    def time(self, size: str, mode: str, batch: int, reps: int) -> dict:
        return dict(times=time_calls(lambda: self.forward(size, mode, batch), reps, self.device))

    def check(self, size: str, mode: str, batch: int) -> dict:
        if (size, batch) not in self.reference:
            self.reference[(size, batch)] = self.forward(size, 'fp32', batch)
        ref = self.reference[(size, batch)]
        out = self.forward(size, mode, batch)
        memory = peak_memory_bytes(lambda: self.forward(size, mode, batch), self.device)
        return dict(max_abs=float((out - ref).abs().max()), peak_fp32=float(ref.abs().max()), memory=memory)


def main() -> None:
    worker = Worker()
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop('op')
        if op == 'quit':
            break
        try:
            reply = getattr(worker, op)(**request)
        except Exception as e:  # the benchmark prints it and goes on without HF
            reply = dict(error=f'{type(e).__name__}: {e}')
        sys.stdout.write(json.dumps(reply) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
