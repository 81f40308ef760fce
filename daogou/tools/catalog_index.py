"""The in-memory side of the catalog: BM25 index, filter arrays and vocabulary, rebuilt when the store changes.

Chroma holds the vectors and the records; lexical scoring and filter masks over every product are faster
as numpy arrays. `CatalogIndex.refresh()` compares the store's revision and rebuilds only after a write
(by this process or another one), and persists the BM25 index under `cache_dir` so that a restart does
not re-tokenise the catalog.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from daogou.ingest.filters import Filters
from daogou.ingest.store import ProductStore
from daogou.tools.lexical import BM25Index, tokenize
from daogou.tools.vocabulary import Vocabulary, build_vocabulary

__all__ = ["CatalogIndex"]

log = logging.getLogger(__name__)


class CatalogIndex:
    """Lexical scores and filter masks over every product of a store."""

    def __init__(self, store: ProductStore, cache_dir: Path | None = None) -> None:
        self.store = store
        self.cache_dir = cache_dir
        self._lock = threading.Lock()
        self._revision: str | None = None
        self.ids: list[str] = []
        self.pos: dict[str, int] = {}
        self.bm25 = BM25Index([], [])
        self.meta: list[dict[str, Any]] = []
        self._price = np.zeros(0)
        self._in_stock = np.zeros(0, dtype=bool)
        self._waterproof = np.zeros(0, dtype=bool)
        self._category = np.zeros(0, dtype=object)
        self._brand = np.zeros(0, dtype=object)
        self.vocabulary = Vocabulary()

    def refresh(self) -> CatalogIndex:
        """Rebuild if the store was written since the last build; cheap when it was not."""
        revision = self.store.revision()
        if revision == self._revision:
            return self
        with self._lock:
            if revision != self._revision:
                self._build(revision)
        return self

    def _build(self, revision: str) -> None:
        ids: list[str] = []
        docs: list[str] = []
        metas: list[dict[str, Any]] = []
        for pid, doc, meta in self.store.lexical_rows():
            ids.append(pid)
            docs.append(doc)
            metas.append(meta)
        self.bm25 = self._load_or_build_bm25(revision, ids, docs)
        self.ids, self.meta = ids, metas
        self.pos = {pid: i for i, pid in enumerate(ids)}
        self._price = np.array([m.get("price", np.nan) for m in metas], dtype=np.float64)
        self._in_stock = np.array([bool(m.get("in_stock", True)) for m in metas], dtype=bool)
        self._waterproof = np.array([bool(m.get("waterproof", False)) for m in metas], dtype=bool)
        self._category = np.array([m.get("category", "") for m in metas], dtype=object)
        self._brand = np.array([m.get("brand", "") for m in metas], dtype=object)
        titles = [str(m.get("title") or d[:60]) for m, d in zip(metas, docs, strict=True)]
        self.vocabulary = build_vocabulary(ids, titles, metas)
        self._revision = revision

    def _load_or_build_bm25(self, revision: str, ids: list[str], docs: list[str]) -> BM25Index:
        path = None
        if self.cache_dir is not None:
            key = hashlib.sha256(f"{self.store.text.name}:{revision}".encode()).hexdigest()[:16]
            path = self.cache_dir / f"bm25-{key}.npz"
            if path.exists():
                try:
                    with np.load(path, allow_pickle=False) as z:
                        state = json.loads(str(z["meta"]))
                        state.update({k: z[k] for k in ("indptr", "doc_idx", "tf", "doc_len")})
                    index = BM25Index.from_state(state)
                    if index.ids == ids:
                        return index
                except (OSError, ValueError, KeyError) as e:
                    log.warning("BM25 cache %s unusable (%s); rebuilding", path.name, e)
        index = BM25Index(ids, [tokenize(d) for d in docs])
        if path is not None:
            self._save(path, index)
        return index

    @staticmethod
    def _save(path: Path, index: BM25Index) -> None:
        state = index.to_state()
        arrays = {k: state.pop(k) for k in ("indptr", "doc_idx", "tf", "doc_len")}
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob("bm25-*.npz"):
            old.unlink(missing_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, meta=np.array(json.dumps(state, ensure_ascii=False)), **arrays)
        tmp.replace(path)

    def title_of(self, i: int) -> str:
        """The title of the product at position `i` of `ids`."""
        return str(self.meta[i].get("title", ""))

    def __len__(self) -> int:
        return len(self.ids)

    def mask(self, filters: Filters) -> np.ndarray:
        """Boolean array over `ids`: which products meet the filters (same rule as Filters.matches)."""
        m = np.ones(len(self.ids), dtype=bool)
        if filters.price_min is not None:
            m &= self._price >= filters.price_min  # NaN (no price) compares False: excluded
        if filters.price_max is not None:
            m &= self._price <= filters.price_max
        if filters.categories:
            m &= np.isin(self._category, list(filters.categories))
        if filters.brands:
            m &= np.isin(self._brand, list(filters.brands))
        if filters.exclude_brands:
            m &= ~np.isin(self._brand, list(filters.exclude_brands))
        if filters.in_stock:
            m &= self._in_stock
        if filters.waterproof:
            m &= self._waterproof
        if filters.colors or filters.sizes or filters.exclude_ids:
            rest = Filters(colors=filters.colors, sizes=filters.sizes, exclude_ids=filters.exclude_ids)
            for i in np.flatnonzero(m):  # list-valued fields: check the survivors only
                m[i] = rest.matches(self.meta[i])
        return m

    def lexical_scores(self, text: str) -> np.ndarray:
        """BM25 share of the query each product matches (~1.0 = every query term), aligned with `ids`."""
        return self.bm25.scores(tokenize(text), normalized=True)
