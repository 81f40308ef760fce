#!/usr/bin/env bash
# Set up, then lint and run every test layer: unit (fakes) and integration (real models, real servers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
# Assembled/converted models are cached here between runs (ignored by git).
export DAOGOU_HOME="${DAOGOU_HOME:-$PWD/.daogou}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"  # see bench/README.md
ruff check daogou tests bench
python -m pytest tests/unit tests/dialogues -q -m "not integration"
python -m pytest tests/integration tests/dialogues -q -m integration -s --durations=15
