#!/usr/bin/env bash
# The guest kit restored from its snapshot vs its cold boot, in one invocation
# (bench/snapshot.py). Usage: bench/snapshot.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x "${VOLT:-build/volt}" ] || { echo "bench: build first (make build)" >&2; exit 1; }
exec /usr/bin/python3 bench/snapshot.py "$@"
