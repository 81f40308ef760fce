"""`daogou eval dialogues`: a dialogue suite against the real agent, on the catalog the suite was written for.

Builds a temporary in-memory store with the suite's catalog — the demo catalog plus the suite's
`catalog_extra.jsonl` (the default), a product file (`catalog=`), or a catalog derived from a title corpus
(`titles=`, see `taobao_catalog`) — optionally re-keyed by a metamorphic variant (`variant=`, see
`catalog_variants`: the suite's dialogues are rewritten by the same map), runs every dialogue through
`Agent.run_turn` (one DialogueState per dialogue), and reports pass rates per behaviour together with per-turn
latency (first product card, first token, full reply; p50/p95).
"""

from __future__ import annotations

import statistics
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daogou.agent.agent import Agent, ReplyWriter
from daogou.agent.state import DialogueState
from daogou.evals.catalog_variants import VARIANTS, write_variant
from daogou.evals.dialogue_report import SuiteReport
from daogou.evals.dialogues import load_catalog_rows, run_suite
from daogou.evals.taobao_catalog import build_title_catalog
from daogou.ingest.demo import build_demo_catalog
from daogou.ingest.images import open_image
from daogou.ingest.pipeline import ingest_catalogs
from daogou.ingest.store import open_store
from daogou.settings import Settings
from daogou.tools.catalog_index import CatalogIndex

__all__ = ["SuiteRun", "latency_summary", "prepare_suite", "run_dialogue_eval"]


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


@dataclass(frozen=True)
class SuiteRun:
    """A suite ready to run: the catalog files to ingest, the dialogue folder, and what they are (for reports)."""

    catalogs: list[Path]
    dialogues: Path
    catalog_name: str  # "demo", "titles:dev_corpus.jsonl", "file:shop.jsonl"
    variant: str | None


def prepare_suite(suite: Path, work_dir: Path, *, catalog: Path | None = None, titles: Path | None = None,
                  variant: str | None = None) -> SuiteRun:
    """Write what the run needs into `work_dir`: the catalog (demo, file or derived from titles) and, for a variant,
    the re-keyed catalog and rewritten dialogues. Raises ValueError naming the bad argument and the fix."""
    suite, work_dir = Path(suite), Path(work_dir)
    if catalog is not None and titles is not None:
        raise ValueError(f"give a catalog file ({catalog}) or a title corpus ({titles}), not both")
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid: {', '.join(VARIANTS)}")
    for what, path in (("catalog", catalog), ("titles", titles)):
        if path is not None and not Path(path).is_file():
            raise ValueError(f"{what} file {path} does not exist; pass a JSONL file (the title corpus lives in "
                             "../shared/data/dev/dev_corpus.jsonl)")
    if titles is not None:
        catalogs, name = [build_title_catalog(Path(titles), work_dir / "titles")], f"titles:{Path(titles).name}"
    elif catalog is not None:
        catalogs, name = [Path(catalog)], f"file:{Path(catalog).name}"
    else:
        extra = suite / "catalog_extra.jsonl"
        catalogs = [build_demo_catalog(work_dir / "demo")] + ([extra] if extra.exists() else [])
        name = "demo"
    if variant is None:
        return SuiteRun(catalogs=catalogs, dialogues=suite, catalog_name=name, variant=None)
    written = write_variant(load_catalog_rows(catalogs), suite, VARIANTS[variant], work_dir / f"variant-{variant}")
    return SuiteRun(catalogs=[written.catalog], dialogues=written.dialogues, catalog_name=name, variant=variant)


def run_dialogue_eval(settings: Settings, suite: Path, *, writer: ReplyWriter | None,
                      only: list[str] | None = None,
                      on_turn: Callable[[str, Any], None] | None = None,
                      timings_by_tool: dict[str, list[dict[str, float]]] | None = None,
                      catalog: Path | None = None, titles: Path | None = None, variant: str | None = None,
                      ) -> tuple[SuiteReport, dict[str, dict[str, float]]]:
    """Run the suite in `suite` (a folder of YAML files) on its catalog; returns report and latency.

    `catalog`/`titles`/`variant`: see `prepare_suite` (default: the demo catalog plus `suite/catalog_extra.jsonl`).
    `timings_by_tool`, when given, is filled with each turn's timings under the tool it called ("none": no tool).
    """
    with tempfile.TemporaryDirectory(prefix="daogou-dialogues-") as tmp:
        run = prepare_suite(suite, Path(tmp), catalog=catalog, titles=titles, variant=variant)
        s = settings.with_(ephemeral=True, chroma_url=None, store_dir=None,
                           collection_prefix=f"dlg-{uuid.uuid4().hex[:10]}")
        store = open_store(s)
        ingest_catalogs(run.catalogs, store, s, strict=True, progress=False)  # the suite needs every row
        from daogou.assistant import make_reader

        index = CatalogIndex(store).refresh()
        agent = Agent(index, writer=writer, shop=settings.shop_name, reader=make_reader(settings, writer, index))
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
            report = run_suite(turn, [run.dialogues], load_catalog_rows(run.catalogs), only=only, on_turn=on_turn)
        finally:
            store.drop()
    return report, latency_summary(timings)
