"""Running the real `daogou` CLI in subprocesses with a private home and the shared model cache."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

DAOGOU = [sys.executable, "-m", "daogou.app.cli"]
MODELS = Path(os.environ.get("DAOGOU_HOME") or Path.home() / ".daogou") / "models"  # shared model cache


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAOGOU_")}
    env.update({"DAOGOU_HOME": str(home), "DAOGOU_MODELS": str(MODELS), "PYTHONUNBUFFERED": "1", **extra})
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(DAOGOU + args, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def free_port() -> int:
    """A TCP port nothing listens on now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
