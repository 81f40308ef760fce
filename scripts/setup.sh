#!/usr/bin/env bash
# Create .venv (Python 3.11) and install daogou with everything it needs. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first and pinned: 2.13.0 is the CPU build; an unpinned torch would pull a multi-GB CUDA build.
python -m pip install -q "torch==2.13.0"
# The 1.5B chat model (1.1 GB) only when chosen: DAOGOU_LLM_SIZE=1.5b bash scripts/setup.sh
if [ "${DAOGOU_LLM_SIZE:-0.5b}" = "1.5b" ]; then
  python -m pip install -q -e ".[test,llm-1-5b]"
else
  python -m pip install -q -e ".[test]"
fi
# The widget's browser tests drive Debian's Chromium (Playwright cannot download browsers here), with a CJK font
# so the screenshots show Chinese. Installed only when missing; needs root (CI runs as root).
if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "wqy\|noto sans cjk"; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null
  else
    echo "note: /usr/bin/chromium missing and not root: the widget's browser tests will be skipped" >&2
  fi
fi
