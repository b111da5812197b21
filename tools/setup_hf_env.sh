#!/usr/bin/env bash
# Creates .venv-hf: a small environment with HF transformers, used only by the tests that compare vitpose_mm with
# transformers' VitPoseForPoseEstimation (tests/hf_reference.py runs there, in a subprocess).
#
# Why a second environment: mmpretrain 1.2.0 fails to import beside any transformers release that has ViTPose
# ("NoneType takes no arguments" in mmpretrain/models/multimodal/blip), so transformers never goes into .venv.
# torch 2.13.0 is the CPU wheel that pip finds on this machine's disk (no multi-GB CUDA download).
#
# Idempotent: exits at once when the stamp is newer than this script; `make` calls it through the same stamp.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV_HF:-$ROOT/.venv-hf}"
PY="${PYTHON:-python3.11}"
TORCH_VERSION=2.13.0
TRANSFORMERS_VERSION=4.57.6  # any release >= 4.48 has VitPoseForPoseEstimation; pinned for repeatable tests
STAMP="$VENV/.setup-done"

log() { printf '[setup-hf] %s\n' "$*"; }

if [ -f "$STAMP" ] && [ "$STAMP" -nt "${BASH_SOURCE[0]}" ]; then
  log "$VENV is up to date"
  exit 0
fi
command -v "$PY" >/dev/null || { echo "[setup-hf] error: $PY not found; set PYTHON=/path/to/python3.11" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi
log "torch $TORCH_VERSION (CPU), transformers $TRANSFORMERS_VERSION, safetensors, numpy, scipy, pillow"
# scipy and pillow: VitPoseImageProcessor (HF's keypoint post-processing) needs both
"$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off -q \
  "torch==$TORCH_VERSION" "transformers==$TRANSFORMERS_VERSION" safetensors 'numpy>=2,<2.4' scipy pillow 2>&1 \
  | grep -v "is ignored: it is neither" || true
"$VENV/bin/python" -c "
import torch, transformers
from transformers import VitPoseConfig, VitPoseForPoseEstimation, VitPoseImageProcessor
VitPoseImageProcessor()
print(f'[setup-hf] ok: torch {torch.__version__}, transformers {transformers.__version__}')
"
touch "$STAMP"
