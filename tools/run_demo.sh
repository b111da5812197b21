#!/usr/bin/env bash
# The demo behind `make demo`: synthetic data -> mim train -> mim test -> AP/AR and a picture of predictions.
# Environment overrides: DATA (data/synthetic), WORK (work_dirs/demo), CFG (the demo config), and
# TRAIN_ARGS (extra `mim train` arguments, e.g. "--cfg-options train_cfg.max_epochs=1" for a quick look).
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  echo 'usage: bash tools/run_demo.sh   (what make demo runs; needs the set-up .venv: run make demo or activate .venv)'
  echo '  env: DATA (data/synthetic), WORK (work_dirs/demo), CFG (the demo config), TRAIN_ARGS (extra mim train arguments)'
  exit 0
fi
cd "$(dirname "$0")/.."
# the project's environment when it exists (make puts it on PATH; a direct call may not have it)
if [ -x "${VENV:-.venv}/bin/python" ]; then export PATH="$(cd "${VENV:-.venv}" && pwd)/bin:$PATH"; fi
DATA=${DATA:-data/synthetic}
WORK=${WORK:-work_dirs/demo}
CFG=${CFG:-configs/demo/td-hm_ViTPose-tiny_1xb32-12e_synthetic-128x96.py}
start=$(date +%s)

if [ ! -f "$DATA/annotations/person_keypoints_val.json" ]; then
  python tools/make_synthetic_data.py "$DATA" --seed 0
fi
DATA_OPTS=(train_dataloader.dataset.data_root="$DATA/" val_dataloader.dataset.data_root="$DATA/"
           test_dataloader.dataset.data_root="$DATA/" val_evaluator.ann_file="$DATA/annotations/person_keypoints_val.json"
           test_evaluator.ann_file="$DATA/annotations/person_keypoints_val.json")

echo "[demo] training: mim train vitpose_mm $CFG"
mim train vitpose_mm "$CFG" --work-dir "$WORK" ${TRAIN_ARGS:-} --cfg-options "${DATA_OPTS[@]}"
CKPT=$(cat "$WORK/last_checkpoint")

echo "[demo] evaluating: mim test vitpose_mm $CFG --checkpoint $CKPT"
mim test vitpose_mm "$CFG" --checkpoint "$CKPT" --work-dir "$WORK/test" --out "$WORK/predictions.pkl" \
  --cfg-options "${DATA_OPTS[@]}"
python tools/draw_predictions.py "$WORK/predictions.pkl" "$WORK/predictions.jpg" --num 6
python - "$WORK/test/metrics.json" "$(( $(date +%s) - start ))" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print('[demo] synthetic val (GT boxes, no flip test): ' + ', '.join(f'{k.split("/")[-1]} {v:.3f}' for k, v in m.items()))
print(f'[demo] total time {int(sys.argv[2]) // 60} min {int(sys.argv[2]) % 60} s')
PY
echo "[demo] picture of predicted skeletons: $WORK/predictions.jpg"
