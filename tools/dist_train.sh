#!/usr/bin/env bash
# Data-parallel training with torchrun and mmengine's `--launcher pytorch` (nccl on CUDA, gloo on the CPU).
#   bash tools/dist_train.sh CONFIG NPROC [train.py arguments ...]
# Several machines: set NNODES, NODE_RANK, MASTER_ADDR and PORT the same way on each (torchrun's rendezvous).
set -euo pipefail
usage() {
  echo "usage: bash tools/dist_train.sh CONFIG NPROC [train.py arguments ...]"
  echo "  env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500)"
}
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  usage
  exit 0
fi
if [ $# -lt 2 ]; then
  usage >&2
  exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
exec python -m torch.distributed.run --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" --nproc_per_node="$NPROC" \
  "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "$@"
