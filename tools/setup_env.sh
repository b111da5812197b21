#!/usr/bin/env bash
# Creates .venv with the pinned OpenMMLab stack for vitpose_mm (see docs/install.md).
# Idempotent: `make` only calls it when .venv/.setup-done is older than this script or setup.cfg. The package
# itself is installed by `make` (regular, non-editable install: mim finds the configs and tools only in an installed
# package's .mim/ folder), and reinstalled whenever its files change.
#
# Why each unusual step is here (details in docs/install.md):
# - mmcv 2.1.0 is source-only on PyPI and mmdet 3.3.0 refuses mmcv >= 2.2, so mmcv is built here once, with
#   compiled CPU ops, and the wheel is cached outside the clone, keyed by the mmcv, torch and Python versions.
# - mmcv's setup.py needs torch and pkg_resources at build time: build without isolation, setuptools < 82.
# - xtcocotools' PyPI wheel is compiled against numpy 1.x: rebuild it from source against numpy 2.
# - mmpose 1.3.2 lists chumpy (unbuildable, never imported) and openmim 0.3.9 pulls openxlab (pins an ancient
#   setuptools): both are installed with --no-deps plus their real runtime needs.
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  echo 'usage: bash tools/setup_env.sh   (what make setup runs: creates .venv with the pinned OpenMMLab stack)'
  echo '  env: VENV (.venv), PYTHON (python3.11), MAX_JOBS (2, for the mmcv build)'
  exit 0
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# absolute: pip writes the interpreter path it was run with into the shebang of every console script (mim)
VENV="$(cd "$ROOT" && realpath -m "${VENV:-.venv}")"
PY="${PYTHON:-python3.11}"
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/vitpose_mm"

log() { printf '[setup] %s\n' "$*"; }

command -v "$PY" >/dev/null || { echo "[setup] error: $PY not found; set PYTHON=/path/to/python3.11" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi
export PATH="$VENV/bin:$PATH"
PIP=(python -m pip install --disable-pip-version-check --progress-bar off)

log "build tools, numpy, torch $TORCH_VERSION, torchvision $TORCHVISION_VERSION"
"${PIP[@]}" 'pip>=23.2' 'setuptools>=77.0.3,<82' wheel ninja 'Cython>=3' 'numpy>=2,<2.4' \
  "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"

# ---- mmcv with compiled ops, built once per (mmcv, torch, python) and cached ---------------------------------
PYTAG="$(python -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
TORCH_KEY="$(python -c 'import torch; print(torch.__version__.replace("+", "_"))')"
WHEELDIR="$CACHE/mmcv-$MMCV_VERSION-torch$TORCH_KEY-$PYTAG"
if ! python -c "import mmcv, sys; from mmcv.ops import nms; sys.exit(mmcv.__version__ != '$MMCV_VERSION')" 2>/dev/null; then
  if ! ls "$WHEELDIR"/mmcv-*.whl >/dev/null 2>&1; then
    log "building mmcv $MMCV_VERSION with CPU ops against torch $TORCH_KEY (about 10 min on 2 cores, once per machine)"
    BUILD="$(mktemp -d)"
    trap 'rm -rf "$BUILD"' EXIT
    # torch >= 2.14's headers require C++20, but mmcv 2.1.0's setup.py passes -std=c++17. torch's cpp_extension
    # calls $CXX, so a wrapper appends -std=c++20 after mmcv's own flag (the last -std wins).
    printf '#!/bin/sh\nexec c++ "$@" -std=c++20\n' > "$BUILD/cxx20"
    chmod +x "$BUILD/cxx20"
    CXX="$BUILD/cxx20" MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" \
      python -m pip wheel --disable-pip-version-check --no-build-isolation --no-deps --no-binary mmcv \
      --no-cache-dir -w "$BUILD/wheels" "mmcv==$MMCV_VERSION"
    mkdir -p "$WHEELDIR"
    cp "$BUILD"/wheels/mmcv-*.whl "$WHEELDIR/"
  else
    log "using cached mmcv wheel from $WHEELDIR"
  fi
  "${PIP[@]}" --no-deps --force-reinstall "$WHEELDIR"/mmcv-*.whl
fi

# ---- the rest of the stack -------------------------------------------------------------------------------------
log "OpenMMLab stack"
"${PIP[@]}" 'mmengine==0.10.7' 'mmdet==3.3.0' 'mmpretrain==1.2.0' \
  addict packaging pyyaml yapf 'opencv-python<5' pillow \
  json-tricks munkres scipy matplotlib \
  click colorama model-index pandas requests rich tabulate \
  pytest safetensors 'onnx==1.23.2' 'onnxruntime==1.32.0' 'onnxscript==0.7.2'
"${PIP[@]}" --no-deps 'mmpose==1.3.2' 'openmim==0.3.9'
if ! python -c 'import xtcocotools.coco' 2>/dev/null; then
  log "rebuilding xtcocotools 1.14.3 against numpy 2"
  "${PIP[@]}" --no-build-isolation --no-binary xtcocotools --force-reinstall --no-deps 'xtcocotools==1.14.3'
fi

log "checking the environment"
python - <<'PY'
import mmcv, mmdet, mmengine, mmpose, mmpretrain, torch, numpy
from mmcv.ops import nms  # noqa: F401  (fails loudly when mmcv was built without ops)
import xtcocotools.coco  # noqa: F401
print(f'[setup] torch {torch.__version__}, numpy {numpy.__version__}, mmengine {mmengine.__version__}, '
      f'mmcv {mmcv.__version__} (ops ok), mmdet {mmdet.__version__}, mmpretrain {mmpretrain.__version__}, '
      f'mmpose {mmpose.__version__}')
PY
touch "$VENV/.setup-done"
log "done"
