#!/usr/bin/env bash
# volt's speed and footprint in one table (issue #15): bench/run.py; docs/benchmarks.md.
# Usage: bench/run.sh [--quick] [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/run.py "$@"
