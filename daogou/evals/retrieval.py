"""`daogou eval retrieval`: nDCG@10 / MRR@10 / Recall@10 of catalog search on any corpus and query set.

The corpus (product records, JSONL) is ingested into a temporary in-memory store with the real models,
then each query runs through the same `search_products` the agent uses (no filters parsed: this measures
ranking). Modes compare the retrievers on the same queries: `hybrid` (default), `dense`, `lexical`.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from daogou.evals.metrics import mean_metrics
from daogou.ingest.pipeline import ingest_catalogs
from daogou.ingest.store import open_store
from daogou.settings import Settings
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.search import MODES, SearchRequest, search_products

__all__ = ["MODES", "evaluate_retrieval", "load_queries"]



def load_queries(path: Path) -> list[dict[str, Any]]:
    """Read `{"query", "relevant_ids"}` lines; a malformed line is an error naming the line."""
    out = []
    with path.open(encoding="utf-8-sig") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                q, rel = row["query"], row["relevant_ids"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
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
    tmp = settings.with_(ephemeral=True, chroma_host=None, store_dir=None,
                         collection_prefix=f"eval-{uuid.uuid4().hex[:10]}")
    store = open_store(tmp)
    report = ingest_catalogs([corpus], store, tmp, progress=False)
    if report.read == 0:
        raise ValueError(f"no usable products in {corpus}: {report.summary()}")
    index = CatalogIndex(store)
    results: dict[str, dict[str, float]] = {}
    for mode in modes:
        runs = []
        for q in qs:
            res = search_products(index, SearchRequest(text=q["query"], k=k, mode=mode))
            runs.append(([c.id for c in res.cards], q["relevant_ids"]))
        results[mode] = mean_metrics(runs, k=k)
    store.drop()
    return results
