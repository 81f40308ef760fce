"""Ranking metrics with binary relevance: nDCG@k, MRR@k, Recall@k, and their mean over a set of queries.

Definitions (the standard ones, as in trec_eval / BEIR with binary gains):

- DCG@k  = sum over ranks r = 1..k of rel(r) / log2(r + 1)
- IDCG@k = DCG@k of the ideal ranking (all relevant documents first, at most k of them)
- nDCG@k = DCG@k / IDCG@k
- MRR@k  = 1 / (rank of the first relevant document) if it is within the top k, else 0
- Recall@k = |relevant within the top k| / |relevant|

A query with no relevant documents has no defined score; `mean_metrics` refuses it rather than
silently counting it as 0 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence

__all__ = ["mean_metrics", "mrr_at_k", "ndcg_at_k", "recall_at_k"]


def _check_k(k: int) -> None:
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k={k!r} must be a positive integer, e.g. k=10")


def _top_unique(ranked_ids: Sequence[str], k: int) -> list[str]:
    """The first k distinct ids (a duplicate id later in a ranking earns nothing)."""
    seen: set[str] = set()
    out: list[str] = []
    for doc_id in ranked_ids:
        if doc_id in seen:
            continue
        seen.add(doc_id)
        out.append(doc_id)
        if len(out) == k:
            break
    return out


def ndcg_at_k(ranked_ids: Sequence[str], relevant_ids: Collection[str], k: int = 10) -> float:
    """Normalised discounted cumulative gain at k with binary gains; 0.0 when nothing is relevant."""
    _check_k(k)
    relevant = set(relevant_ids)
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(r + 2) for r, d in enumerate(_top_unique(ranked_ids, k)) if d in relevant)
    idcg = sum(1.0 / math.log2(r + 2) for r in range(min(len(relevant), k)))
    return dcg / idcg


def mrr_at_k(ranked_ids: Sequence[str], relevant_ids: Collection[str], k: int = 10) -> float:
    """Reciprocal rank of the first relevant id within the top k (1-based), else 0.0."""
    _check_k(k)
    relevant = set(relevant_ids)
    for r, d in enumerate(_top_unique(ranked_ids, k)):
        if d in relevant:
            return 1.0 / (r + 1)
    return 0.0


def recall_at_k(ranked_ids: Sequence[str], relevant_ids: Collection[str], k: int = 10) -> float:
    """Share of the relevant ids found within the top k; 0.0 when nothing is relevant."""
    _check_k(k)
    relevant = set(relevant_ids)
    if not relevant:
        return 0.0
    return sum(1 for d in _top_unique(ranked_ids, k) if d in relevant) / len(relevant)


def mean_metrics(
    runs: Iterable[tuple[Sequence[str], Collection[str]]], k: int = 10
) -> dict[str, float | int]:
    """Mean nDCG/MRR/Recall at k over `(ranked_ids, relevant_ids)` pairs, one pair per query.

    Returns `{"ndcg@K", "mrr@K", "recall@K", "n"}` (K = k). An empty set of runs gives zeros with n=0.
    """
    _check_k(k)
    totals = {"ndcg": 0.0, "mrr": 0.0, "recall": 0.0}
    n = 0
    for i, (ranked, relevant) in enumerate(runs):
        if not relevant:
            raise ValueError(
                f"query #{i} has no relevant ids; drop it from the runs or give it at least one relevant id"
            )
        totals["ndcg"] += ndcg_at_k(ranked, relevant, k)
        totals["mrr"] += mrr_at_k(ranked, relevant, k)
        totals["recall"] += recall_at_k(ranked, relevant, k)
        n += 1
    out: dict[str, float | int] = {f"{name}@{k}": (v / n if n else 0.0) for name, v in totals.items()}
    out["n"] = n
    return out
