"""The search side of the catalog: ids, filter columns, BM25, text vectors and vocabulary, in step with the store.

Chroma holds the records and its ANN indexes; filter masks, lexical scores and exact cosines over every
product are numpy over a `CatalogTable` and a `BM25Index` that share one row order. `refresh()` compares
the store's revision (at most once a second, and after every write through this process) and, when it
moved, fetches only the rows written since (`ProductStore.rows_since`: another process's ingest shows up
too), drops deleted ones, and updates the table and BM25 without re-reading the rest. With a `cache_dir`,
each state is saved there (.npy files, keyed by the store's revision) and a restart memory-maps it:
no row is read from Chroma, nothing is re-tokenised.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from daogou.ingest.filters import Filters
from daogou.ingest.store import SEQ_MARGIN_US, ProductStore
from daogou.tools.catalog_table import CatalogTable, MetaView, TableBuilder
from daogou.tools.lexical import BM25Builder, BM25Index, tokenize
from daogou.tools.vocabulary import Vocabulary, build_vocabulary

__all__ = ["REVISION_CHECK_S", "CatalogIndex"]

log = logging.getLogger(__name__)

REVISION_CHECK_S = 1.0  # how often refresh() asks the store whether another process wrote to it
FORMAT = 1  # bump when the saved layout changes: older saves are then rebuilt from the store


class CatalogIndex:
    """Filter masks, lexical scores, text vectors and the vocabulary over every product of a store.

    `ids`, `pos` (id -> row) and `meta` (row -> filter metadata, parsed on demand) follow the row order of
    the arrays; `vocabulary` is what the agent knows of the catalog; `store.get_products(ids)` gives records.
    """

    def __init__(self, store: ProductStore, cache_dir: Path | None = None, *, background: bool = False) -> None:
        self.store = store
        self.cache_dir = cache_dir
        # background (serving processes): after the first refresh, catch-ups with the store run in a thread and
        # searches never wait for one; the new rows are swapped in before the vocabulary (seconds per 100k
        # products) is rebuilt, the old words answering meanwhile
        self.background = background
        self._pending: threading.Thread | None = None
        self._warming: threading.Thread | None = None
        self._lock = threading.Lock()  # one sync at a time
        self._spawn = threading.Lock()  # one catch-up thread at a time
        self._local = threading.local()  # the parts each thread saw at its last refresh (see _seen)
        self._revision: str | None = None
        self._hwm: int | None = None  # newest write seq among the rows read (None: nothing read yet)
        self._checked_at = float("-inf")
        self._writes_seen = -1
        self.last_sync: dict[str, Any] = {}  # what the last sync did: how, rows read, seconds
        self._install(CatalogTable.empty(), BM25Index([], []), Vocabulary())

    # -- the parts -------------------------------------------------------------------------------
    def _install(self, table: CatalogTable, bm25: BM25Index, vocabulary: Vocabulary) -> None:
        self._parts = (table, bm25, vocabulary)  # swapped as one: a reader never sees a table with another's BM25

    def _seen(self) -> tuple[CatalogTable, BM25Index, Vocabulary]:
        """The parts this thread saw at its last refresh(): a search or a turn works on one state throughout, even
        when a catch-up swaps in a new one half way (row numbers, scores and masks stay aligned)."""
        return getattr(self._local, "parts", None) or self._parts

    @property
    def table(self) -> CatalogTable:
        """The columns (ids, filters, metadata, text vectors)."""
        return self._seen()[0]

    @property
    def bm25(self) -> BM25Index:
        """The lexical index (rows as in `table`)."""
        return self._seen()[1]

    @property
    def vocabulary(self) -> Vocabulary:
        """What the catalog holds (categories, brands, title terms, product names)."""
        return self._seen()[2]

    @property
    def ids(self) -> list[str]:
        """Product ids in row order."""
        return self.table.ids

    @property
    def pos(self) -> dict[str, int]:
        """Row of each product id."""
        return self.table.pos

    @property
    def meta(self) -> MetaView:
        """Row i's filter metadata (`meta[i]`, a dict parsed on demand)."""
        return self.table.meta

    @property
    def revision(self) -> str | None:
        """The store revision the index reflects (None before the first refresh)."""
        return self._revision

    def title_of(self, i: int) -> str:
        """The title of the product at position `i` of `ids`."""
        return str(self.meta[i].get("title", ""))

    def __len__(self) -> int:
        return len(self.table)

    # -- staying in step with the store ----------------------------------------------------------
    def refresh(self) -> CatalogIndex:
        """Catch up with the store if it was written since; cheap when it was not.

        In background mode (a serving process) only the first refresh waits; later catch-ups run in a thread
        while searches go on over the current parts, which are swapped for the new ones as a whole.
        """
        writes = self.store.writes
        if (self._revision is not None and writes == self._writes_seen
                and time.monotonic() - self._checked_at < REVISION_CHECK_S):
            self._local.parts = self._parts
            return self
        revision = self.store.revision()
        if revision != self._revision:
            if self.background and self._revision is not None:
                self._sync_aside()
            else:
                with self._lock:
                    if revision != self._revision:
                        first = self._revision is None
                        self._sync(revision)
                        if first and self.background:  # Chroma loads its HNSW on the first query: now, aside
                            self._warming = threading.Thread(target=self._warm, daemon=True, name="catalog-warm")
                            self._warming.start()
        self._checked_at = time.monotonic()
        self._writes_seen = writes
        self._local.parts = self._parts  # this thread now works on the newest state, until its next refresh()
        return self

    def _sync_aside(self) -> None:
        """Start a catch-up thread unless one is running (it reads the revision itself: the newest wins)."""
        with self._spawn:  # (not self._lock: a running catch-up holds that, and a search must not wait for it)
            if self._pending is not None and self._pending.is_alive():
                return
            self._pending = threading.Thread(target=self._catch_up, daemon=True, name="catalog-sync")
            self._pending.start()

    def _catch_up(self) -> None:
        try:
            with self._lock:
                revision = self.store.revision()
                if revision != self._revision:
                    self._sync(revision)
        except Exception as e:  # a thread has no caller to raise to: log, and the next refresh tries again
            log.warning("catalog index: catching up with the store failed (%s); searches use the last state", e)

    def _warm(self) -> None:
        try:
            self.store.warm()
        except Exception as e:  # (only a head start: the first query would load it anyway)
            log.warning("could not warm the store's vector index (%s); the first query will", e)

    def settle(self) -> CatalogIndex:
        """Wait for work left to background threads (the vector index warming up, a catch-up with the store)."""
        for thread in (self._warming, self._pending):
            if thread is not None:
                thread.join()
        self._local.parts = self._parts
        return self

    def _sync(self, revision: str) -> None:
        t0 = time.perf_counter()
        clock = _Clock()
        how = "delta"
        if self._revision is None and self._load_saved(revision):
            how = "loaded"
            clock.lap("load_s")
            if self._revision == revision:
                self.last_sync = {"how": how, "rows": 0, "seconds": round(time.perf_counter() - t0, 3),
                                  "parts": clock.parts}
                return
        how = "loaded+delta" if how == "loaded" else how
        since = None if self._hwm is None else self._hwm - SEQ_MARGIN_US
        changed_ids = None if since is None else self.store.ids_since(since)
        if changed_ids is None or len(changed_ids) > max(len(self._parts[0]), 1000) // 2:
            how = "full"  # (nothing held yet, or most of it changed: reading everything once is cheaper)
            table, bm25, n_read = self._full(clock)
        else:
            table, bm25, n_read = self._delta(changed_ids, clock)
        table, bm25, n_missing = self._reconcile(table, bm25)
        n_read += n_missing
        clock.lap("reconcile_s")
        changed = table is not self._parts[0]
        if changed and self.background and self._revision is not None:
            # (in the catch-up thread) the rows at once, the old words until the new ones are built
            self._install(table, bm25, self._parts[2])
        vocabulary = _vocabulary(table) if changed else self._parts[2]
        clock.lap("vocabulary_s")
        seq = np.asarray(table.columns["seq"])
        self._hwm = int(seq.max()) if len(seq) else 0
        self._revision = revision
        self._install(table, bm25, vocabulary)
        if self.cache_dir is not None:
            self._save(changed)
            clock.lap("save_s")
        self.last_sync = {"how": how, "rows": n_read, "seconds": round(time.perf_counter() - t0, 3),
                          "parts": clock.parts}
        log.info("catalog index: %s sync, %d rows read, %d products, %.1fs", how, n_read, len(table),
                 time.perf_counter() - t0)

    def _full(self, clock: _Clock) -> tuple[CatalogTable, BM25Index, int]:
        tables, lexical = TableBuilder(capacity=self.store.count()), BM25Builder()
        for page in self.store.rows_since(None):
            clock.lap("read_s")
            tables.add(page)
            clock.lap("table_s")
            tokens = [tokenize(d) for d in page.documents]
            clock.lap("tokenize_s")
            lexical.add(page.ids, tokens)
            clock.lap("bm25_s")
        table = tables.build()
        clock.lap("table_s")
        bm25 = lexical.build()
        clock.lap("bm25_s")
        return table, bm25, len(tables.ids)

    def _delta(self, changed_ids: list[str], clock: _Clock) -> tuple[CatalogTable, BM25Index, int]:
        pages = list(self.store.rows_of(changed_ids))
        clock.lap("read_s")
        changed = {pid for page in pages for pid in page.ids}
        if not changed:
            return self._parts[0], self._parts[1], 0
        keep = np.array([pid not in changed for pid in self._parts[0].ids], dtype=bool)
        tokens = [tokenize(d) for page in pages for d in page.documents]
        clock.lap("tokenize_s")
        ids = [pid for page in pages for pid in page.ids]
        table = self._parts[0].updated(keep, pages)
        clock.lap("table_s")
        bm25 = self._parts[1].updated(keep, ids, tokens)
        clock.lap("bm25_s")
        return table, bm25, len(ids)

    def _reconcile(self, table: CatalogTable, bm25: BM25Index) -> tuple[CatalogTable, BM25Index, int]:
        """When the store's count differs from the index's: rows of deleted products are dropped, and rows the
        deltas missed (written longer than SEQ_MARGIN_US before they became visible) are read by id."""
        if self.store.count() == len(table):
            return table, bm25, 0
        live = set(self.store.all_ids())
        keep = np.array([pid in live for pid in table.ids], dtype=bool)
        missing = sorted(live - set(table.ids))
        pages = list(self.store.rows_of(missing)) if missing else []
        if keep.all() and not pages:
            return table, bm25, 0
        ids = [pid for page in pages for pid in page.ids]
        tokens = [tokenize(d) for page in pages for d in page.documents]
        if missing:
            log.warning("catalog index: %d products were missing (written out of step?); read them by id",
                        len(missing))
        return table.updated(keep, pages), bm25.updated(keep, ids, tokens), len(ids)

    # -- saved states ----------------------------------------------------------------------------
    def _folder(self) -> Path:
        # the collection's id too: a store deleted and made again is another catalog
        key = hashlib.sha256(f"{self.store.location}|{self.store.text.name}|{self.store.text.id}".encode())
        return Path(str(self.cache_dir)) / f"index-{key.hexdigest()[:16]}"

    def _load_saved(self, revision: str) -> bool:
        """Memory-map the saved state of this store, if any (it may be older than `revision`: a delta follows)."""
        if self.cache_dir is None:
            return False
        folder = self._folder()
        try:
            gen = folder / (folder / "current").read_text(encoding="utf-8").strip()
            state = json.loads((gen / "state.json").read_text(encoding="utf-8"))
            if state.get("format") != FORMAT or state.get("dim") != _dim(self.store):
                return False
            table = CatalogTable.load(gen)
            bm25 = BM25Index.load(gen, table.ids)
            vocabulary = Vocabulary.from_state(json.loads((gen / "vocabulary.json").read_text(encoding="utf-8")))
        except FileNotFoundError:
            return False
        except (OSError, ValueError, KeyError) as e:
            log.warning("saved catalog index in %s unusable (%s); rebuilding it from the store", folder, e)
            return False
        self._install(table, bm25, vocabulary)
        self._revision, self._hwm = state["revision"], int(state["hwm"])
        return True

    def _save(self, changed: bool = True) -> None:
        """Write this state as a new generation folder, point `current` at it, drop older ones, then map it back.
        When no row changed (only the revision moved), the current generation's state is updated in place."""
        folder = self._folder()
        folder.mkdir(parents=True, exist_ok=True)
        if not changed and self._write_state(folder):
            return
        gen_name = hashlib.sha256(str(self._revision).encode()).hexdigest()[:16]
        gen = folder / gen_name
        if not gen.exists():
            tmp = folder / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            try:
                self._parts[0].save(tmp)
                self._parts[1].save(tmp)
                (tmp / "vocabulary.json").write_text(json.dumps(self._parts[2].to_state(), ensure_ascii=False),
                                                     encoding="utf-8")
                (tmp / "state.json").write_text(json.dumps(self._state()), encoding="utf-8")
                tmp.rename(gen)
            except OSError as e:
                shutil.rmtree(tmp, ignore_errors=True)
                if not gen.exists():  # (another process saving the same revision at once is fine)
                    log.warning("could not save the catalog index in %s (%s); it is rebuilt at the next start",
                                folder, e)
                    return
        pointer = folder / f".current-{os.getpid()}"
        pointer.write_text(gen_name, encoding="utf-8")
        pointer.replace(folder / "current")
        for old in folder.iterdir():  # older generations (a process still mapping one keeps its files open)
            if old.is_dir() and old.name != gen_name and not old.name.startswith(".tmp-"):
                shutil.rmtree(old, ignore_errors=True)
        try:  # map the saved arrays back: only the pages queries touch stay resident
            table = CatalogTable.load(gen)
            self._install(table, BM25Index.load(gen, table.ids), self._parts[2])
        except (OSError, ValueError) as e:
            log.warning("could not map the saved catalog index back (%s); keeping it in memory", e)

    def _state(self) -> dict[str, Any]:
        return {"format": FORMAT, "revision": self._revision, "hwm": self._hwm, "dim": self._parts[0].dim,
                "products": len(self._parts[0]), "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

    def _write_state(self, folder: Path) -> bool:
        """Point the current generation at this revision (its rows are unchanged); False if there is none."""
        try:
            gen = folder / (folder / "current").read_text(encoding="utf-8").strip()
        except OSError:
            return False
        if not (gen / "state.json").exists():
            return False
        tmp = gen / f".state-{os.getpid()}.json"
        tmp.write_text(json.dumps(self._state()), encoding="utf-8")
        tmp.replace(gen / "state.json")
        return True

    # -- what search and the tools read ----------------------------------------------------------
    def mask(self, filters: Filters) -> np.ndarray:
        """Boolean array over `ids`: which products meet the filters (same rule as Filters.matches)."""
        return self.table.mask(filters)

    def lexical_scores(self, text: str) -> np.ndarray:
        """BM25 share of the query each product matches (~1.0 = every query term), aligned with `ids`."""
        return self.bm25.scores(tokenize(text), normalized=True)

    def vectors_of(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Text vectors of these rows, (len(rows), dim) float32."""
        return np.asarray(self.table.vectors[np.asarray(rows, dtype=np.int64)], dtype=np.float32)

    def text_vectors(self, ids: Iterable[str]) -> dict[str, np.ndarray]:
        """Text vectors by id (ids the index does not hold are left out), like `ProductStore.text_vectors`."""
        known = [i for i in ids if i in self.pos]
        if not known:
            return {}
        return dict(zip(known, self.vectors_of([self.pos[i] for i in known]), strict=True))

    def content_hashes(self) -> dict[str, str]:
        """Each product's content hash (what ingest compares), by id."""
        return self.table.hashes()


class _Clock:
    """Seconds spent per step of a sync, added up (the figures a slow start-up is read from)."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.parts[name] = round(self.parts.get(name, 0.0) + now - self._t, 3)
        self._t = now


def _vocabulary(table: CatalogTable) -> Vocabulary:
    metas = table.meta.all()
    return build_vocabulary(table.ids, [str(m.get("title") or "") for m in metas], metas)


def _dim(store: ProductStore) -> int | None:
    try:
        return int(store.text_ef.get_config().get("dim"))
    except (TypeError, ValueError):
        return None
