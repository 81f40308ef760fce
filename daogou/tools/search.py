"""search_products: hybrid (BM25 + e5) catalog search with hard filters and optional query image.

Text queries: the dense top-N (Chroma's HNSW or an exact pass over the filter mask, whichever the query's
shape makes cheaper: see dense.py) and the lexical top-N (BM25, under the same mask) are pooled, every
pooled product gets both its exact cosine and its BM25 score, and `fuse_scores` combines them. Image
queries rank by EfficientNet cosine. Text and image are combined by the fusion strategy
(`SearchRequest.fusion`, default `Settings.fusion`; see fusion.py): "late" fuses the two rankings by
reciprocal rank, "early" scores one weighted text + image vector per product, "mid" adds the cosine in
the space of the alignment head (align.py), which also matches a text query to product images (mode
"image": text-to-image search). When nothing meets the hard filters, the nearest products are returned
with `relaxed=True` and the trace says which constraint was dropped — never silently.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from daogou.ingest.filters import Filters
from daogou.ingest.schema import Product
from daogou.tools.align import head_for
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.dense import nearest_images, nearest_rows
from daogou.tools.fusion import FUSIONS, MID_TEXT_WEIGHT, MID_WEIGHT, early_fuse, fuse_scores, mid_fuse, rrf

__all__ = ["ProductCard", "SearchRequest", "SearchResult", "search_products"]

POOL = 50  # candidates taken from each retriever before fusion


@dataclass(frozen=True)
class ProductCard:
    """What a shopper sees of a product; every field comes from the catalog record."""

    id: str
    title: str
    price: float | None
    currency: str
    category: str
    brand: str
    attributes: dict[str, str]
    stock: int | None
    image: str | None
    url: str
    score: float = 0.0
    price_max: float | None = None  # the highest variant price when the variants' prices differ, else None

    @classmethod
    def from_product(cls, p: Product, score: float = 0.0) -> ProductCard:
        """Card of a catalog product."""
        span = p.price_range()
        return cls(id=p.id, title=p.title, price=p.price, currency=p.currency, category=p.category,
                   brand=p.brand, attributes=dict(p.attributes), stock=p.stock,
                   image=p.images[0] if p.images else None, url=p.url, score=round(float(score), 4),
                   price_max=span[1] if span and span[1] != p.price else None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the `products` items of `chat --json` and `search --json`)."""
        return {"id": self.id, "title": self.title, "price": self.price, "price_max": self.price_max,
                "currency": self.currency, "category": self.category, "brand": self.brand,
                "attributes": self.attributes, "stock": self.stock, "image": self.image, "url": self.url,
                "score": self.score}


@dataclass(frozen=True)
class SearchRequest:
    """A search: free text and/or an image, hard filters, how many results."""

    text: str = ""
    image: Image.Image | None = None
    filters: Filters = field(default_factory=Filters)
    k: int = 10
    # "hybrid" (BM25 + e5, see fusion.py), "dense" or "lexical" rank the text side; "image" ranks by product
    # images only (a text query is matched to them in the alignment head's space: text-to-image search)
    mode: str = "hybrid"
    fusion: str | None = None  # "early", "mid" or "late" (fusion.py); None: the store's Settings.fusion
    # Drop text results scoring more than this below the best one (None: keep k). e5 cosines bunch together:
    # on the demo catalog, "红色连衣裙 ≤300" scores its 4 dresses 0.935-0.944 and the next item 0.848.
    margin: float | None = None


@dataclass(frozen=True)
class SearchResult:
    """Product cards in display order, and a one-line trace of what was done."""

    cards: list[ProductCard]
    trace: str
    filters: Filters
    relaxed: bool = False  # True: nothing met the filters; these are the nearest, labelled as such
    dropped: tuple[str, ...] = ()  # which constraints were dropped to find the nearest
    timings_ms: dict[str, float] = field(default_factory=dict)


MODES = ("hybrid", "dense", "lexical", "image")


def _text_scores(index: CatalogIndex, qvec: np.ndarray, lex: np.ndarray, ids: list[str],
                 mode: str) -> tuple[list[str], np.ndarray]:
    """The pooled ids the index holds, and their text score under `mode` (hybrid/dense/lexical)."""
    ids = [i for i in ids if i in index.pos]
    rows = np.array([index.pos[i] for i in ids], dtype=np.int64)
    dense = index.vectors_of(rows) @ np.asarray(qvec, dtype=np.float32) if len(rows) else np.zeros(0, np.float32)
    lexical = lex[rows].astype(np.float32) if len(rows) else np.zeros(0, np.float32)
    if mode == "dense":
        return ids, dense
    if mode == "lexical":
        return ids, lexical
    return ids, fuse_scores(dense, lexical)


def _text_pool(index: CatalogIndex, qvec: np.ndarray, lex: np.ndarray, mask: np.ndarray) -> list[str]:
    """The dense top-POOL (HNSW or an exact pass, see dense.py) and the lexical top-POOL among the masked rows."""
    dense_rows, _, _ = nearest_rows(index, qvec, POOL, mask)
    lex_masked = np.where(mask, lex, 0.0)
    top_lex = _top_rows(lex_masked, POOL)
    rows = set(dense_rows.tolist()) | {int(i) for i in top_lex if lex_masked[i] > 0}
    return [index.ids[r] for r in sorted(rows)]


def _top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k highest scores (any order): a partial sort, not a sort of every product."""
    if len(scores) <= k:
        return np.arange(len(scores))
    return np.argpartition(-scores, k - 1)[:k]


def _ordered(ids: list[str], scores: np.ndarray) -> list[tuple[str, float]]:
    order = np.argsort(-scores, kind="stable")
    return [(ids[j], float(scores[j])) for j in order]


@dataclass
class _Query:
    """The query's vectors, computed once per search (relaxation re-ranks with other filters)."""

    text: str
    qvec: np.ndarray | None  # e5 query vector
    lex: np.ndarray | None  # BM25 shares over index.ids
    ivec: np.ndarray | None  # EfficientNet vector of the query image
    head: Any = None  # align._Loaded with a head, when mid fusion or text-to-image search needs one

    def aligned(self) -> np.ndarray:
        """The query in the head's shared space: the normalised sum of its projected sides."""
        h = self.head.head
        z = np.zeros(h.dim, dtype=np.float32)
        if self.qvec is not None:
            z += h.project_text(self.qvec[None])[0]
        if self.ivec is not None:
            z += h.project_image(self.ivec[None])[0]
        return z / (np.linalg.norm(z) or 1.0)


def _aligned_scores(q: _Query, index: CatalogIndex, side: str) -> np.ndarray:
    """Cosine of the query to every product (rows of index.ids) in the shared space; NaN where unknown.

    side "image": the products' image projections (text -> image search); "joint": the normalised sum of
    each product's text and image projections (the mid-fused product vector).
    """
    loaded = q.head
    rows = _head_rows(loaded, index)
    mat = loaded.projected["image" if side == "image" else "joint"]
    out = np.full(len(index.ids), np.nan, dtype=np.float32)
    known = rows >= 0
    out[known] = mat[rows[known]] @ q.aligned()
    return out


_HEAD_ROWS: weakref.WeakKeyDictionary[CatalogIndex, tuple[Any, Any, np.ndarray]] = weakref.WeakKeyDictionary()


def _head_rows(loaded: Any, index: CatalogIndex) -> np.ndarray:
    """For each index row, its row in the head's projections (-1: none); computed once per head and table."""
    got = _HEAD_ROWS.get(index)
    if got is None or got[0] is not loaded or got[1] is not index.table:
        got = (loaded, index.table, np.array([loaded.pos.get(i, -1) for i in index.ids], dtype=np.int64))
        _HEAD_ROWS[index] = got
    return got[2]


def _rank(index: CatalogIndex, req: SearchRequest, q: _Query, filters: Filters,
          fusion: str) -> list[tuple[str, float]]:
    mask = index.mask(filters)
    if not mask.any():
        return []
    store = index.store
    if q.qvec is None and q.ivec is None:  # filters only: browse the matching products, cheapest first
        rows = np.flatnonzero(mask)
        price = np.nan_to_num(np.asarray(index.table.columns["price"])[rows], nan=np.inf)
        order = np.argsort(price, kind="stable")[:max(req.k, POOL)]
        return [(index.ids[rows[j]], 0.0) for j in order]
    if req.mode == "image" and q.qvec is not None:  # text (+ image) -> product images, in the shared space
        scores = np.where(mask, _aligned_scores(q, index, "image"), np.nan)
        keep = np.flatnonzero(~np.isnan(scores))
        top = np.sort(keep[_top_rows(scores[keep], POOL)])  # in row order: ties stay in catalog order
        return _ordered([index.ids[i] for i in top], scores[top])
    image_rank = nearest_images(index, q.ivec, POOL, mask, filters) if q.ivec is not None else []
    if req.mode == "image":
        return image_rank
    pool: list[str] = []
    if q.qvec is not None:
        pool = _text_pool(index, q.qvec, q.lex, mask)
    if fusion == "late" or (fusion == "early" and (q.qvec is None or q.ivec is None)):
        # one side only, or separate rankings combined by rank (text + image)
        rankings = []
        if q.qvec is not None and pool:
            rankings.append(_ordered(*_text_scores(index, q.qvec, q.lex, pool, req.mode)))
        if image_rank:
            rankings.append(image_rank)
        if len(rankings) == 1:
            return rankings[0]
        return rrf([[pid for pid, _ in r] for r in rankings]) if rankings else []
    # early (text + image) or mid: one score per pooled product from both sides
    aligned = _aligned_scores(q, index, "joint") if fusion == "mid" else None
    extra = [pid for pid, _ in image_rank]
    if aligned is not None:
        masked = np.nan_to_num(np.where(mask, aligned, np.nan), nan=-np.inf)
        extra += [index.ids[i] for i in _top_rows(masked, POOL) if mask[i]]
    ids = sorted(set(pool) | set(extra), key=lambda i: index.pos.get(i, -1))
    ids = [i for i in ids if i in index.pos and mask[index.pos[i]]]
    if not ids:
        return []
    text_side = None
    if q.qvec is not None:
        ids, text_side = _text_scores(index, q.qvec, q.lex, ids, req.mode)
    image_side = None
    if q.ivec is not None:
        vectors = store.image_vectors(ids)
        image_side = np.array([float(vectors[i] @ q.ivec) if i in vectors else np.nan for i in ids])
    base = early_fuse(text_side, image_side)
    if aligned is not None:
        weight = MID_WEIGHT if q.ivec is not None else MID_TEXT_WEIGHT
        base = mid_fuse(base, np.array([aligned[index.pos[i]] for i in ids]), weight)
    return _ordered(ids, np.asarray(base, dtype=np.float32))


def _query(index: CatalogIndex, req: SearchRequest, fusion: str) -> tuple[_Query, str]:
    """Embed the query once; load the alignment head when it is needed. Returns it and a note for the trace
    ("" or why mid fusion fell back to late). Text-to-image search without a usable head is an error."""
    has_text = bool(req.text.strip())
    q = _Query(text=req.text, qvec=index.store.embed_query(req.text) if has_text else None,
               lex=index.lexical_scores(req.text) if has_text else None,
               ivec=index.store.embed_image(req.image) if req.image is not None else None)
    mid_weight = MID_WEIGHT if req.image is not None else MID_TEXT_WEIGHT
    wants_head = (req.mode == "image" and has_text) or (fusion == "mid" and req.mode != "image" and mid_weight > 0)
    if not wants_head or (q.qvec is None and q.ivec is None):
        return q, ""
    loaded = head_for(index)
    if loaded.head is None:
        if req.mode == "image":
            raise ValueError(f"text-to-image search needs the alignment head: {loaded.problem}")
        return q, f"mid fusion unavailable ({loaded.problem}), late fusion used"
    q.head = loaded
    return q, ""


# Which constraints to give up, in order, when nothing meets them all: price first, then attributes.
_RELAX_STEPS: list[tuple[str, dict[str, Any]]] = [
    ("price", {"price_min": None, "price_max": None}),
    ("stock", {"in_stock": False}),  # the product asked for, sold out, before another one in stock
    ("size", {"sizes": ()}),
    ("colour", {"colors": ()}),
    ("category", {"categories": ()}),  # before brand: a named brand says more than a category word
    ("brand", {"brands": ()}),
    ("waterproof", {"waterproof": False}),
]


def search_products(index: CatalogIndex, request: SearchRequest) -> SearchResult:
    """Search the catalog; see the module docstring. `index` is refreshed if the store changed."""
    if request.mode not in MODES:
        raise ValueError(f"unknown search mode {request.mode!r}; choose one of {list(MODES)}")
    fusion = request.fusion or index.store.settings.fusion
    if fusion not in FUSIONS:
        raise ValueError(f"unknown fusion {fusion!r}; choose one of {list(FUSIONS)}")
    t0 = time.perf_counter()
    index.refresh()
    t1 = time.perf_counter()
    filters = request.filters
    q, note = _query(index, request, fusion)
    if fusion == "mid" and q.head is None:  # no head (the note says why), or a text-only query (see MID_TEXT_WEIGHT)
        fusion = "late"
    ranked = _rank(index, request, q, filters, fusion)
    dropped: list[str] = []
    relaxed_filters = filters
    if not ranked and not filters.is_empty():
        for name, change in _RELAX_STEPS:
            current = relaxed_filters.model_dump()
            if all(current[k] == v for k, v in change.items()):
                continue
            relaxed_filters = relaxed_filters.model_copy(update=change)
            dropped.append(name)
            ranked = _rank(index, request, q, relaxed_filters, fusion)
            if ranked:
                break
    top = ranked[: request.k]
    if request.margin is not None and top and request.text.strip() and request.image is None:
        best = top[0][1]
        top = [(pid, score) for pid, score in top if score >= best - request.margin]
    products = index.store.get_products([pid for pid, _ in top])
    scores = dict(top)
    cards = [ProductCard.from_product(p, scores[p.id]) for p in products]
    t2 = time.perf_counter()
    what = " + ".join(x for x in (f"text {request.text!r}" if request.text.strip() else "",
                                  "image" if request.image is not None else "") if x) or "filters only"
    cond = filters.describe()
    trace = f"search {what}" + (f" [{cond}]" if cond else "") + f": {len(cards)} of {len(index)} products"
    if request.mode == "image" and request.text.strip():
        trace += " (text to image, aligned space)"
    elif fusion == "mid" or (request.image is not None and request.text.strip()):  # something was fused
        trace += f" ({fusion} fusion)"
    if note:
        trace += f"; {note}"
    if dropped:
        trace += f"; nothing met every constraint, nearest after dropping {', '.join(dropped)}"
    return SearchResult(cards=cards, trace=trace, filters=filters, relaxed=bool(dropped), dropped=tuple(dropped),
                        timings_ms={"index": round((t1 - t0) * 1000, 1), "search": round((t2 - t1) * 1000, 1)})
