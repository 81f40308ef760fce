#!/usr/bin/env bash
# Set up (first run only takes minutes), ingest the demo catalog, then start the shopping widget.
# Arguments go to `daogou serve` (e.g. --port 7860 --host 0.0.0.0 --root-path /shop/assistant --lang en).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
daogou demo          # build + ingest the demo catalog (unchanged products are skipped), sample searches
exec daogou serve "$@"
