#!/usr/bin/env bash
# Set up (first run only takes minutes) and start daogou on the embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
exec daogou demo "$@"
