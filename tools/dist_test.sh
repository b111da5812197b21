#!/usr/bin/env bash
# Data-parallel evaluation with torchrun and mmengine's `--launcher pytorch` (nccl on CUDA, gloo on the CPU).
#   bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py arguments ...]
set -euo pipefail
usage() {
  echo "usage: bash tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py arguments ...]"
  echo "  env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500)"
}
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  usage
  exit 0
fi
if [ $# -lt 3 ]; then
  usage >&2
  exit 2
fi
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
shift 3
exec python -m torch.distributed.run --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" --nproc_per_node="$NPROC" \
  "$(dirname "$0")/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
