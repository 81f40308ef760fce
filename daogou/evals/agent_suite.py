"""`daogou eval dialogues`: the scripted dialogue suite against the real agent on the demo catalog.

Builds a temporary in-memory store with the demo catalog plus the suite's extra catalog (planted injections),
runs every dialogue through `Agent.run_turn` (one DialogueState per dialogue), and reports pass rates per
behaviour together with per-turn latency (first product card, first token, full reply; p50/p95).
"""

from __future__ import annotations

import statistics
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from daogou.agent.agent import Agent, ReplyWriter
from daogou.agent.state import DialogueState
from daogou.evals.dialogue_report import SuiteReport
from daogou.evals.dialogues import load_catalog_rows, run_suite
from daogou.ingest.demo import build_demo_catalog
from daogou.ingest.images import open_image
from daogou.ingest.pipeline import ingest_catalogs
from daogou.ingest.store import open_store
from daogou.settings import Settings
from daogou.tools.catalog_index import CatalogIndex

__all__ = ["latency_summary", "run_dialogue_eval"]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[idx]


def latency_summary(timings: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """p50/p95/mean (ms) of each timing key over the turns that have it."""
    keys = sorted({k for t in timings for k in t})
    out = {}
    for k in keys:
        vals = [t[k] for t in timings if k in t]
        out[k] = {"p50": round(_percentile(vals, 0.5), 1), "p95": round(_percentile(vals, 0.95), 1),
                  "mean": round(statistics.fmean(vals), 1), "n": len(vals)}
    return out


def run_dialogue_eval(settings: Settings, suite: Path, *, writer: ReplyWriter | None,
                      only: list[str] | None = None,
                      on_turn: Callable[[str, dict[str, Any]], None] | None = None,
                      timings_by_tool: dict[str, list[dict[str, float]]] | None = None,
                      ) -> tuple[SuiteReport, dict[str, dict[str, float]]]:
    """Run the suite in `suite` (a folder of YAML files + catalog_extra.jsonl); returns report and latency.

    `timings_by_tool`, when given, is filled with each turn's timings under the tool it called ("none": no tool).
    """
    extra = suite / "catalog_extra.jsonl"
    with tempfile.TemporaryDirectory(prefix="daogou-dialogues-") as tmp:
        demo = build_demo_catalog(Path(tmp) / "demo")
        s = settings.with_(ephemeral=True, chroma_host=None, store_dir=None,
                           collection_prefix=f"dlg-{uuid.uuid4().hex[:10]}")
        store = open_store(s)
        catalogs = [demo] + ([extra] if extra.exists() else [])
        ingest_catalogs(catalogs, store, s, progress=False)
        from daogou.assistant import make_proposer

        index = CatalogIndex(store).refresh()
        agent = Agent(index, writer=writer, shop=settings.shop_name, proposer=make_proposer(settings, writer, index))
        states: dict[str, DialogueState] = {}
        timings: list[dict[str, float]] = []

        def turn(session_id: str, text: str, image: Path | None) -> dict[str, Any]:
            state = states.setdefault(session_id, DialogueState())
            img = open_image(image, max_bytes=settings.max_image_bytes,
                             max_pixels=settings.max_image_pixels) if image else None
            result = agent.run_turn(state, text, img).to_json()
            timings.append(result["timings_ms"])
            if timings_by_tool is not None:
                tool = result["tool_calls"][0]["name"] if result["tool_calls"] else "none"
                timings_by_tool.setdefault(tool, []).append(result["timings_ms"])
            return result

        try:
            report = run_suite(turn, [suite], load_catalog_rows(catalogs), only=only, on_turn=on_turn)
        finally:
            store.drop()
    return report, latency_summary(timings)
