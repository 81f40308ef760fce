"""Nearest products to a query vector among those a filter mask lets through: Chroma's HNSW or an exact pass.

Which way is cheaper depends on the query's shape, and was measured (bench/search_bench.py, "k-NN by filter
shape"; 100k products, 2 busy cores): Chroma's HNSW without a filter returns 200 neighbours in ~2 ms (recall@50
0.95 against the exact top 50), but with a `where` filter Chroma first resolves the filter in its SQLite
metadata: 60-100 ms for one category or brand, 0.4-1.1 s for a broad price range, "in stock" or a narrow
combination. An exact pass over the text vectors (kept memory-mapped by the catalog index) costs ~0.1 ms per
1,000 rows read in order and ~5 times that per row gathered from a scattered mask. So, for text vectors:

- no filter: HNSW;
- a filter whose exact pass costs at most `EXACT_BUDGET` rows read in order (every row when the mask lets more
  than a fifth through, else 5 per masked row): the exact pass (exact, ~10 ms at most); at 100k products every
  filter;
- a dearer one (a broad filter over a million products): HNSW without the filter, asked for enough neighbours
  that about four times `k` pass the mask (k / share x 4, at least `MIN_FETCH`, at most `MAX_FETCH`), then the
  mask; when fewer than `k` pass, the exact pass.

Image vectors live only in Chroma: the same plan, with Chroma's own filtered HNSW in place of the exact pass.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from daogou.ingest.filters import Filters

__all__ = ["EXACT_BUDGET", "MAX_FETCH", "MIN_FETCH", "exact", "exact_cost", "nearest_images", "nearest_rows", "plan"]

EXACT_BUDGET = 150_000  # most rows (read in order) an exact pass may cost: ~10-15 ms on one core
MAX_FETCH = 4_000  # most neighbours asked of the HNSW for one filtered query: at 1M products a fetch of 2,200-2,400
# took 36-43 ms (recall@50 1.0) where the exact pass over the ~90k scattered rows took 194-258 ms; 8,200 took 101 ms
# (recall 0.0) where the exact pass over 24k rows took 29 ms
OVER_FETCH = 4  # ask for this many times the neighbours expected to pass the mask
# Chroma's HNSW searches at least n_results deep (ef): asking for 200 and keeping the best k finds the true top
# 50 more often (recall@50 0.86 -> 0.97 unfiltered at 100k) for ~1 ms more
MIN_FETCH = 200
_CHUNK = 65_536  # rows per step of the exact pass (bounded temporaries)


def plan(n_total: int, n_masked: int, k: int) -> str:
    """"hnsw" (no filter), "exact" or "hnsw+mask" (HNSW over-fetch, then the mask), for a query's shape."""
    if n_masked >= n_total:
        return "hnsw"
    if exact_cost(n_total, n_masked) <= EXACT_BUDGET or _fetch(n_total, n_masked, k) >= MAX_FETCH:
        return "exact"
    return "hnsw+mask"


def exact_cost(n_total: int, n_masked: int) -> int:
    """Rows-read-in-order an exact pass costs: all of them for a broad mask, 5 per masked row for a narrow one."""
    return n_total if n_masked * 5 > n_total else n_masked * 5


def _fetch(n_total: int, n_masked: int, k: int) -> int:
    """Neighbours to ask the HNSW for, so that about OVER_FETCH x k of them pass a mask letting n_masked through."""
    if n_masked >= n_total:
        return max(k, MIN_FETCH)
    return max(MIN_FETCH, math.ceil(OVER_FETCH * k * n_total / max(n_masked, 1)))


def _top(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (rows, scores), best first; ties by row (also across the k-th place: a partial sort alone would
    pick among equal scores at random)."""
    if len(rows) > k:
        kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
        above = np.flatnonzero(scores > kth)
        ties = np.flatnonzero(scores == kth)
        ties = ties[np.argsort(rows[ties], kind="stable")][:k - len(above)]
        keep = np.concatenate([above, ties])
        rows, scores = rows[keep], scores[keep]
    order = np.lexsort((rows, -scores))
    return rows[order], scores[order]


def exact(index: Any, vector: np.ndarray, k: int, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top-k rows by cosine among the masked rows, over the index's text vectors.

    Gathering scattered rows costs ~5x a contiguous pass per row, so a mask letting through more than a
    fifth of the rows is scored by passing over every row and masking the result.
    """
    rows = np.flatnonzero(mask)
    if len(rows) == 0:
        return rows, np.zeros(0, dtype=np.float32)
    q = np.asarray(vector, dtype=np.float32)
    vectors = index.table.vectors
    best_rows, best_scores = [], []
    if exact_cost(len(mask), len(rows)) == len(mask):
        for lo in range(0, len(mask), _CHUNK):
            scores = np.asarray(vectors[lo:lo + _CHUNK]) @ q
            chunk = np.flatnonzero(mask[lo:lo + _CHUNK])
            r, s = _top(chunk + lo, scores[chunk], k)
            best_rows.append(r)
            best_scores.append(s)
    else:
        for lo in range(0, len(rows), _CHUNK):
            chunk = rows[lo:lo + _CHUNK]
            r, s = _top(chunk, index.vectors_of(chunk) @ q, k)
            best_rows.append(r)
            best_scores.append(s)
    return _top(np.concatenate(best_rows), np.concatenate(best_scores), k)


def _hnsw(index: Any, hits: list[Any], mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Chroma hits as (rows, scores), leaving out ids the index does not hold (yet) and rows the mask refuses."""
    pos = index.pos
    pairs = [(pos[h.id], h.score) for h in hits if h.id in pos and (mask is None or mask[pos[h.id]])]
    rows = np.array([p[0] for p in pairs], dtype=np.int64)
    return rows, np.array([p[1] for p in pairs], dtype=np.float32)


def nearest_rows(index: Any, vector: np.ndarray, k: int, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(rows, cosines, plan): the k products nearest `vector` by text vector among the masked rows, best first."""
    n_masked = int(mask.sum())
    if n_masked == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), "none"
    how = plan(len(mask), n_masked, k)
    if how == "hnsw":
        rows, scores = _hnsw(index, index.store.nearest_text(vector, _fetch(len(mask), n_masked, k)), None)
        return rows[:k], scores[:k], how
    if how == "hnsw+mask":
        hits = index.store.nearest_text(vector, _fetch(len(mask), n_masked, k))
        rows, scores = _hnsw(index, hits, mask)
        if len(rows) >= k:
            return rows[:k], scores[:k], how
        how = "hnsw+mask->exact"
    rows, scores = exact(index, vector, k, mask)
    return rows, scores, how


def nearest_images(index: Any, vector: np.ndarray, k: int, mask: np.ndarray,
                   filters: Filters) -> list[tuple[str, float]]:
    """(id, cosine) of the k products nearest `vector` by image vector among the masked rows, best first."""
    n_masked = int(mask.sum())
    if n_masked == 0 or k <= 0:
        return []
    store = index.store
    if n_masked >= len(mask):
        return [(h.id, h.score) for h in store.nearest_image(vector, _fetch(len(mask), n_masked, k))][:k]
    if plan(len(mask), n_masked, k) == "hnsw+mask":
        hits = store.nearest_image(vector, _fetch(len(mask), n_masked, k))
        kept = [(h.id, h.score) for h in hits if h.id in index.pos and mask[index.pos[h.id]]]
        if len(kept) >= k:
            return kept[:k]
    hits = store.nearest_image(vector, k, filters.to_where())
    return [(h.id, h.score) for h in hits if h.id in index.pos and mask[index.pos[h.id]]]
