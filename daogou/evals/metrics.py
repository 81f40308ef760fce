"""Ranking metrics with binary relevance (nDCG@k, MRR@k, Precision/Recall/F1@k) and list-level metrics of
recommendations (catalog coverage, intra-list diversity, novelty).

Definitions (the standard ones, as in trec_eval / BEIR with binary gains):

- DCG@k  = sum over ranks r = 1..k of rel(r) / log2(r + 1)
- IDCG@k = DCG@k of the ideal ranking (all relevant documents first, at most k of them)
- nDCG@k = DCG@k / IDCG@k
- MRR@k  = 1 / (rank of the first relevant document) if it is within the top k, else 0
- Recall@k = |relevant within the top k| / |relevant|
- Precision@k = |relevant within the top k| / k (a list shorter than k is not rewarded for being short)
- F1@k = harmonic mean of Precision@k and Recall@k of the same list (0 when both are 0)

Of a set of recommendation lists (one per user):

- catalog coverage = |distinct ids recommended to anyone| / |catalog|
- intra-list diversity = 1 - mean pairwise cosine of the unit item vectors within one list
- novelty = mean over a list's items of -log2 p(item), p = the item's popularity share (see `novelty`)

A query with no relevant documents has no defined score; `mean_metrics` refuses it rather than
silently counting it as 0 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "catalog_coverage", "f1_at_k", "intra_list_diversity", "mean_metrics", "mrr_at_k", "ndcg_at_k", "novelty",
    "precision_at_k", "recall_at_k",
]


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


def precision_at_k(ranked_ids: Sequence[str], relevant_ids: Collection[str], k: int = 10) -> float:
    """Share of the k slots filled by a relevant id (divided by k, even when the list is shorter)."""
    _check_k(k)
    relevant = set(relevant_ids)
    return sum(1 for d in _top_unique(ranked_ids, k) if d in relevant) / k


def f1_at_k(ranked_ids: Sequence[str], relevant_ids: Collection[str], k: int = 10) -> float:
    """Harmonic mean of Precision@k and Recall@k of one list; 0.0 when neither finds anything."""
    p, r = precision_at_k(ranked_ids, relevant_ids, k), recall_at_k(ranked_ids, relevant_ids, k)
    return 2 * p * r / (p + r) if p + r else 0.0


def catalog_coverage(lists: Iterable[Sequence[str]], catalog_size: int) -> float:
    """Share of the catalog that appears in at least one list."""
    if catalog_size < 1:
        raise ValueError(f"catalog_size={catalog_size} must be at least 1 (the number of products)")
    return len({d for ids in lists for d in ids}) / catalog_size


def intra_list_diversity(ids: Sequence[str], vectors: Mapping[str, np.ndarray]) -> float | None:
    """1 - mean pairwise cosine of the list's item vectors (normalised here); None for fewer than 2 items.

    Ids without a vector are left out of the pairs. 0 means all items point the same way; higher is more varied.
    """
    vecs = [np.asarray(vectors[d], dtype=np.float64) for d in dict.fromkeys(ids) if d in vectors]
    if len(vecs) < 2:
        return None
    m = np.stack(vecs)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    m = m / np.where(norms == 0, 1.0, norms)
    sims = m @ m.T
    n = len(vecs)
    mean_pair = (sims.sum() - np.trace(sims)) / (n * (n - 1))
    return float(1.0 - mean_pair)


def novelty(ids: Sequence[str], counts: Mapping[str, int], n_users: int) -> float | None:
    """Mean self-information -log2 p of the list's items, p = (users who touched the item + 1) / (n_users + 1).

    `counts` holds how many users interacted with each item (in the data the recommender learnt from);
    add-one smoothing gives never-seen items a finite, highest novelty. None for an empty list.
    """
    if n_users < 0:
        raise ValueError(f"n_users={n_users} must be >= 0")
    if not ids:
        return None
    return sum(-math.log2((counts.get(d, 0) + 1) / (n_users + 1)) for d in ids) / len(ids)


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
