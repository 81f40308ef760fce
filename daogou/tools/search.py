"""search_products: hybrid (BM25 + e5) catalog search with hard filters and optional query image.

Text queries: the dense top-N (Chroma, with the filters as `where`) and the lexical top-N (BM25, with the
same filters as a mask) are pooled, every pooled product gets both its exact cosine and its BM25 score,
and `fuse_scores` combines them. Image queries rank by EfficientNet cosine; text + image rank lists are
combined by reciprocal-rank fusion. When nothing meets the hard filters, the nearest products are
returned with `relaxed=True` and the trace says which constraint was dropped — never silently.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from daogou.ingest.filters import Filters
from daogou.ingest.schema import Product
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.fusion import fuse_scores, rrf

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

    @classmethod
    def from_product(cls, p: Product, score: float = 0.0) -> ProductCard:
        """Card of a catalog product."""
        return cls(id=p.id, title=p.title, price=p.price, currency=p.currency, category=p.category,
                   brand=p.brand, attributes=dict(p.attributes), stock=p.stock,
                   image=p.images[0] if p.images else None, url=p.url, score=round(float(score), 4))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the `products` items of `chat --json` and `search --json`)."""
        return {"id": self.id, "title": self.title, "price": self.price, "currency": self.currency,
                "category": self.category, "brand": self.brand, "attributes": self.attributes,
                "stock": self.stock, "image": self.image, "url": self.url, "score": self.score}


@dataclass(frozen=True)
class SearchRequest:
    """A search: free text and/or an image, hard filters, how many results."""

    text: str = ""
    image: Image.Image | None = None
    filters: Filters = field(default_factory=Filters)
    k: int = 10
    mode: str = "hybrid"  # text ranking: "hybrid" (BM25 + e5, see fusion.py), "dense" or "lexical"
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


MODES = ("hybrid", "dense", "lexical")


def _text_ranking(index: CatalogIndex, text: str, filters: Filters, mask: np.ndarray,
                  mode: str) -> list[tuple[str, float]]:
    store = index.store
    qvec = store.embed_query(text)
    dense_hits = store.nearest_text(qvec, POOL, filters.to_where())
    lex = index.lexical_scores(text)
    lex_masked = np.where(mask, lex, 0.0)
    top_lex = np.argsort(-lex_masked)[:POOL]
    pool = {h.id for h in dense_hits} | {index.ids[i] for i in top_lex if lex_masked[i] > 0}
    if not pool:
        return []
    ids = sorted(pool, key=lambda i: index.pos.get(i, -1))
    vectors = store.text_vectors(ids)
    ids = [i for i in ids if i in vectors and i in index.pos]
    dense = np.array([float(vectors[i] @ qvec) for i in ids], dtype=np.float32)
    lexical = np.array([lex[index.pos[i]] for i in ids], dtype=np.float32)
    fused = {"hybrid": lambda: fuse_scores(dense, lexical), "dense": lambda: dense,
             "lexical": lambda: lexical}[mode]()
    order = np.argsort(-fused, kind="stable")
    return [(ids[j], float(fused[j])) for j in order]


def _image_ranking(index: CatalogIndex, image: Image.Image, filters: Filters) -> list[tuple[str, float]]:
    vec = index.store.embed_image(image)
    return [(h.id, h.score) for h in index.store.nearest_image(vec, POOL, filters.to_where())]


def _rank(index: CatalogIndex, req: SearchRequest, filters: Filters) -> list[tuple[str, float]]:
    mask = index.mask(filters)
    if not mask.any():
        return []
    rankings = []
    if req.text.strip():
        rankings.append(_text_ranking(index, req.text, filters, mask, req.mode))
    if req.image is not None:
        rankings.append(_image_ranking(index, req.image, filters))
    if not rankings:  # filters only: browse the matching products, cheapest first
        rows = [(index.ids[i], index.meta[i].get("price", float("inf"))) for i in np.flatnonzero(mask)]
        return [(pid, 0.0) for pid, _ in sorted(rows, key=lambda r: r[1])]
    if len(rankings) == 1:
        return rankings[0]
    return rrf([[pid for pid, _ in r] for r in rankings])


# Which constraints to give up, in order, when nothing meets them all: price first, then attributes.
_RELAX_STEPS: list[tuple[str, dict[str, Any]]] = [
    ("price", {"price_min": None, "price_max": None}),
    ("size", {"sizes": ()}),
    ("colour", {"colors": ()}),
    ("category", {"categories": ()}),  # before brand: a named brand says more than a category word
    ("brand", {"brands": ()}),
    ("stock", {"in_stock": False}),
    ("waterproof", {"waterproof": False}),
]


def search_products(index: CatalogIndex, request: SearchRequest) -> SearchResult:
    """Search the catalog; see the module docstring. `index` is refreshed if the store changed."""
    if request.mode not in MODES:
        raise ValueError(f"unknown search mode {request.mode!r}; choose one of {list(MODES)}")
    t0 = time.perf_counter()
    index.refresh()
    t1 = time.perf_counter()
    filters = request.filters
    ranked = _rank(index, request, filters)
    dropped: list[str] = []
    relaxed_filters = filters
    if not ranked and not filters.is_empty():
        for name, change in _RELAX_STEPS:
            current = relaxed_filters.model_dump()
            if all(current[k] == v for k, v in change.items()):
                continue
            relaxed_filters = relaxed_filters.model_copy(update=change)
            dropped.append(name)
            ranked = _rank(index, request, relaxed_filters)
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
    if dropped:
        trace += f"; nothing met every constraint, nearest after dropping {', '.join(dropped)}"
    return SearchResult(cards=cards, trace=trace, filters=filters, relaxed=bool(dropped), dropped=tuple(dropped),
                        timings_ms={"index": round((t1 - t0) * 1000, 1), "search": round((t2 - t1) * 1000, 1)})
