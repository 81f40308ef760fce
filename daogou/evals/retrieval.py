"""`daogou eval retrieval`: nDCG@10 / MRR@10 / Recall@10 of catalog search on any corpus and query set.

The corpus (product records, JSONL) is ingested into a temporary in-memory store with the real models,
then each query runs through the same `search_products` the agent uses (no filters parsed: this measures
ranking). Modes compare the retrievers on the same queries: `hybrid` (default), `dense`, `lexical`
rank text; `image` ranks product images (text-to-image through the alignment head); `early`, `mid`, `late`
are the text + image fusion strategies (fusion.py). `image` and `mid` train the head on the corpus's own
(text, image) pairs first (the queries are never seen); a corpus without images cannot train it, so `mid`
then falls back to `late` (reported under "note") and `image` is an error.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

from daogou.evals.metrics import mean_metrics
from daogou.ingest.pipeline import ingest_catalogs
from daogou.ingest.readers import json_lines
from daogou.ingest.store import open_store
from daogou.settings import Settings
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.search import SearchRequest, search_products

__all__ = ["MODES", "evaluate_retrieval", "load_queries", "request_fields"]

MODES = ("hybrid", "dense", "lexical", "image", "early", "mid", "late")


def request_fields(mode: str) -> dict[str, str]:
    """SearchRequest fields of an eval mode: a text ranking, image-only, or a fusion strategy over hybrid text."""
    if mode in ("early", "mid", "late"):
        return {"mode": "hybrid", "fusion": mode}
    return {"mode": mode, "fusion": "late"}


def load_queries(path: Path) -> list[dict[str, Any]]:
    """Read `{"query", "relevant_ids"}` lines; a malformed line is an error naming the line."""
    out = []
    for n, row, problem in json_lines(path):
        try:
            if problem:
                raise ValueError(problem)
            q, rel = row["query"], row["relevant_ids"]
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path.name}:{n}: expected {{\"query\": str, \"relevant_ids\": [str]}} ({e})") from e
        if not isinstance(q, str) or not isinstance(rel, list):
            raise ValueError(f"{path.name}:{n}: query must be text and relevant_ids a list")
        out.append({"query": q, "relevant_ids": [str(r) for r in rel]})
    return out


def evaluate_retrieval(corpus: Path, queries: Path, settings: Settings, *, modes: list[str] | None = None,
                       k: int = 10) -> dict[str, dict[str, float]]:
    """Metrics per mode, e.g. {"hybrid": {"ndcg@10": .., "mrr@10": .., "recall@10": .., "n": 100}}."""
    modes = modes or ["hybrid"]
    for m in modes:
        if m not in MODES:
            raise ValueError(f"unknown retrieval mode {m!r}; choose from {list(MODES)}")
    qs = load_queries(queries)
    with tempfile.TemporaryDirectory(prefix="daogou-eval-") as home:
        tmp = settings.with_(home=Path(home), models_path=settings.models_dir, ephemeral=True, chroma_url=None,
                             store_dir=None, collection_prefix=f"eval-{uuid.uuid4().hex[:10]}")
        store = open_store(tmp)
        try:
            report = ingest_catalogs([corpus], store, tmp, progress=False)
            if report.read == 0:
                raise ValueError(f"no usable products in {corpus}: {report.summary()}")
            if {"image", "mid"} & set(modes) and store.count_images() >= 4:
                from daogou.tools.align import fit_catalog_head

                fit_catalog_head(store, held_out=0.0)
            elif "image" in modes:
                raise ValueError(f"mode image ranks product images, but only {store.count_images()} products of "
                                 f"{corpus.name} have one (the alignment head needs at least 4); drop --mode image")
            index = CatalogIndex(store)
            results: dict[str, dict[str, float]] = {}
            for mode in modes:
                runs, notes = [], set()
                for q in qs:
                    res = search_products(index, SearchRequest(text=q["query"], k=k, **request_fields(mode)))
                    runs.append(([c.id for c in res.cards], q["relevant_ids"]))
                    if "late fusion used" in res.trace:
                        notes.add("no alignment head (the corpus has too few images): late fusion used")
                results[mode] = mean_metrics(runs, k=k)
                if notes:
                    results[mode]["note"] = "; ".join(sorted(notes))  # type: ignore[assignment]
        finally:
            store.drop()
    return results
