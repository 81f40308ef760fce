"""CatalogIndex: saved and memory-mapped, caught up by deltas (own writes and another process's), equal to a rebuild."""

import json
import random
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import daogou.tools.catalog_index as catalog_index
from daogou.ingest.filters import Filters
from daogou.ingest.pipeline import ingest_catalogs
from daogou.ingest.store import E5EmbeddingFunction, EfficientNetEmbeddingFunction, open_store
from daogou.tools.catalog_index import CatalogIndex
from tests.fakes.encoders import FakeImageEncoder, FakeTextEncoder

COLOURS = ["红色", "蓝色", "黑色", "白色"]
SIZES = ["S", "M", "L", "42"]
BRANDS = ["云裳", "Nike", "小米", ""]
CATS = ["服装", "鞋靴", "数码"]


def _rows(n: int, seed: int = 1, prefix: str = "P") -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        attrs = {"颜色": "/".join(rng.sample(COLOURS, rng.randint(0, 2)))}
        if rng.random() < 0.6:
            attrs["尺码"] = "/".join(rng.sample(SIZES, rng.randint(1, 3)))
        if rng.random() < 0.2:
            attrs["防水"] = "是"
        row = {"id": f"{prefix}{i}", "title": f"{rng.choice(COLOURS)}{rng.choice(['连衣裙', '跑步鞋', '耳机'])} 款{i}",
               "category": rng.choice(CATS), "brand": rng.choice(BRANDS), "attributes": attrs,
               "stock": rng.choice([0, 3, 10])}
        if rng.random() < 0.9:
            row["price"] = rng.choice([49, 99.5, 199, 300, 599, 1200])
        rows.append(row)
    return rows


def _write(tmp_path: Path, rows: list[dict], name: str = "catalog.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _store(settings, prefix: str):
    s = settings.with_(ephemeral=True, store_dir=None, collection_prefix=prefix)
    return open_store(s, text_ef=E5EmbeddingFunction(FakeTextEncoder()),
                      image_ef=EfficientNetEmbeddingFunction(FakeImageEncoder()))


@pytest.fixture
def store(settings, request):
    st = _store(settings, f"ci{abs(hash(request.node.name)) % 10**8}")
    yield st
    st.drop()


FILTERS = [Filters(), Filters(price_max=300), Filters(price_min=100, price_max=600), Filters(colors=("红色",)),
           Filters(colors=("红色", "白色"), sizes=("M",)), Filters(categories=("服装", "数码"), in_stock=True),
           Filters(brands=("Nike",)), Filters(exclude_brands=("Nike", "小米")), Filters(waterproof=True),
           Filters(exclude_ids=("P1", "P2", "nope")), Filters(sizes=("42",), price_max=99.5)]


def _same(a: CatalogIndex, b: CatalogIndex) -> None:
    """Two indexes hold the same catalog (rows may be in another order)."""
    assert sorted(a.ids) == sorted(b.ids)
    order = [b.pos[i] for i in a.ids]
    for f in FILTERS:
        assert np.array_equal(a.mask(f), b.mask(f)[order]), f
    for q in ("红色连衣裙", "耳机 款3", "nothing-like-this"):
        np.testing.assert_allclose(a.lexical_scores(q), b.lexical_scores(q)[order], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(a.vectors_of(range(len(a))), b.vectors_of(order))
    assert [a.meta[i] for i in range(len(a))] == [b.meta[j] for j in order]
    assert a.vocabulary == b.vocabulary


def test_mask_is_filters_matches_on_every_row(store, settings, tmp_path):
    ingest_catalogs([_write(tmp_path, _rows(60))], store, settings)
    index = CatalogIndex(store).refresh()
    metas = store.metadata(index.ids)
    for f in FILTERS:
        assert index.mask(f).tolist() == [f.matches(metas[i]) for i in index.ids], f
    assert index.meta[0] == metas[index.ids[0]]  # the lazy view gives what the store gives


def test_saved_index_is_memory_mapped_by_the_next_process(store, settings, tmp_path):
    ingest_catalogs([_write(tmp_path, _rows(40))], store, settings)
    first = CatalogIndex(store, cache_dir=tmp_path / "cache").refresh()
    assert first.last_sync["how"] == "full"
    again = CatalogIndex(store, cache_dir=tmp_path / "cache").refresh()
    assert again.last_sync["how"] == "loaded" and again.last_sync["rows"] == 0
    assert isinstance(again.table.vectors, np.memmap) and isinstance(again.bm25.doc_idx, np.memmap)
    _same(again, CatalogIndex(store).refresh())
    assert again.vocabulary.categories == frozenset(CATS)


def test_a_write_is_caught_up_by_a_delta_equal_to_a_rebuild(store, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(catalog_index, "SEQ_MARGIN_US", -1)  # read only rows newer than the newest it holds
    rows = _rows(50)
    ingest_catalogs([_write(tmp_path, rows)], store, settings)
    index = CatalogIndex(store, cache_dir=tmp_path / "cache").refresh()
    changed = [dict(r) for r in rows]
    changed[3] = {**changed[3], "title": "全新的防水登山靴", "price": 888, "attributes": {"颜色": "白色", "防水": "是"}}
    changed += _rows(5, seed=9, prefix="N")
    ingest_catalogs([_write(tmp_path, changed)], store, settings)
    index.refresh()
    assert index.last_sync["how"] == "delta" and index.last_sync["rows"] == 6
    _same(index, CatalogIndex(store).refresh())
    assert index.mask(Filters(price_min=800))[index.pos["P3"]]
    restarted = CatalogIndex(store, cache_dir=tmp_path / "cache").refresh()  # the delta's state was saved
    assert restarted.last_sync["how"] == "loaded"
    _same(restarted, index)


def test_deleted_products_leave_the_index(store, settings, tmp_path):
    rows = _rows(30)
    ingest_catalogs([_write(tmp_path, rows)], store, settings)
    index = CatalogIndex(store, cache_dir=tmp_path / "cache").refresh()
    report = ingest_catalogs([_write(tmp_path, rows[:20])], store, settings, prune=True)
    assert len(report.deleted) == 10
    assert sorted(index.refresh().ids) == sorted(r["id"] for r in rows[:20])
    _same(index, CatalogIndex(store).refresh())


def test_another_process_ingest_is_seen(store, settings, tmp_path, monkeypatch):
    ingest_catalogs([_write(tmp_path, _rows(10))], store, settings)
    index = CatalogIndex(store).refresh()
    other = _store(settings, store.settings.collection_prefix)  # a second client on the same collections
    ingest_catalogs([_write(tmp_path, _rows(12))], other, settings)
    assert len(index.refresh()) == 10  # checked at most once a second ...
    monkeypatch.setattr(catalog_index, "REVISION_CHECK_S", 0.0)
    assert len(index.refresh()) == 12  # ... then the other writer's rows are read
    _same(index, CatalogIndex(other).refresh())


def test_own_write_is_seen_at_once(store, settings, tmp_path):
    ingest_catalogs([_write(tmp_path, _rows(10))], store, settings)
    index = CatalogIndex(store).refresh()
    ingest_catalogs([_write(tmp_path, _rows(11))], store, settings)
    assert len(index.refresh()) == 11


def test_an_unusable_saved_index_is_rebuilt(store, settings, tmp_path):
    ingest_catalogs([_write(tmp_path, _rows(10))], store, settings)
    CatalogIndex(store, cache_dir=tmp_path / "cache").refresh()
    for state in (tmp_path / "cache").rglob("table.json"):
        state.write_text("{broken", encoding="utf-8")
    again = CatalogIndex(store, cache_dir=tmp_path / "cache").refresh()
    assert again.last_sync["how"] == "full" and len(again) == 10


def test_background_catch_up_never_makes_a_search_wait(store, settings, tmp_path, monkeypatch):
    ingest_catalogs([_write(tmp_path, _rows(20))], store, settings)
    index = CatalogIndex(store, cache_dir=tmp_path / "cache", background=True).refresh()
    assert len(index) == 20  # the first refresh waits: there is nothing to answer with before it
    new_brand = {"id": "NB1", "title": "全新品牌跑步鞋", "brand": "Zephyrix", "category": "鞋靴", "price": 10}
    ingest_catalogs([_write(tmp_path, _rows(20) + [new_brand])], store, settings)
    release = threading.Event()
    real_vocabulary = catalog_index._vocabulary

    def slow_vocabulary(table):  # the catch-up's vocabulary waits until the test lets it go
        release.wait(10)
        return real_vocabulary(table)

    monkeypatch.setattr(catalog_index, "_vocabulary", slow_vocabulary)
    index.refresh()  # returns at once: the catch-up runs in a thread
    deadline = time.monotonic() + 10
    while "NB1" not in index.refresh().pos and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "NB1" in index.pos  # the rows are swapped in before the vocabulary is built ...
    assert "Zephyrix" not in index.vocabulary.brands  # ... the old words answering meanwhile
    monkeypatch.setattr(catalog_index, "REVISION_CHECK_S", 0.0)
    index.refresh()  # a second refresh neither waits nor starts a second catch-up
    release.set()
    index._pending.join()
    assert "Zephyrix" not in index.vocabulary.brands  # this thread keeps the state of its last refresh() ...
    assert "Zephyrix" in index.refresh().vocabulary.brands  # ... until it refreshes
    index.settle()
    assert "Zephyrix" in index.vocabulary.brands
    _same(index, CatalogIndex(store).refresh())
    restarted = CatalogIndex(store, cache_dir=tmp_path / "cache").refresh()  # saved once the words were ready
    assert restarted.last_sync["how"] == "loaded" and "Zephyrix" in restarted.vocabulary.brands


def test_meta_all_parses_every_row_at_once(store, settings, tmp_path):
    ingest_catalogs([_write(tmp_path, _rows(15))], store, settings)
    index = CatalogIndex(store).refresh()
    assert index.meta.all() == list(index.meta) and len(index.meta.all()) == 15


def test_a_new_price_reuses_the_stored_text_vector(settings, tmp_path):
    class Counting(FakeTextEncoder):
        passages: list[str] = []

        def embed_passages(self, texts):
            self.passages.extend(texts)
            return super().embed_passages(texts)

    enc = Counting()
    st = open_store(settings.with_(ephemeral=True, store_dir=None, collection_prefix="reuse1"),
                    text_ef=E5EmbeddingFunction(enc), image_ef=EfficientNetEmbeddingFunction(FakeImageEncoder()))
    rows = _rows(10)
    ingest_catalogs([_write(tmp_path, rows)], st, settings)
    before = st.text_vectors(["P1"])["P1"]
    enc.passages.clear()
    rows[1] = {**rows[1], "price": 1.5, "stock": 77}  # not in the embedded passage
    rows[2] = {**rows[2], "title": "完全不同的新标题"}  # in it
    report = ingest_catalogs([_write(tmp_path, rows)], st, settings)
    assert report.written == 2 and len(enc.passages) == 1 and "完全不同的新标题" in enc.passages[0]
    assert np.array_equal(st.text_vectors(["P1"])["P1"], before)
    assert st.get_products(["P1"])[0].price == 1.5
    st.drop()


def test_a_row_the_deltas_missed_is_read_by_id(store, settings, tmp_path, monkeypatch):
    monkeypatch.setattr(catalog_index, "SEQ_MARGIN_US", -1)
    ingest_catalogs([_write(tmp_path, _rows(10))], store, settings)
    index = CatalogIndex(store).refresh()
    late = _rows(11)[10]
    ingest_catalogs([_write(tmp_path, _rows(11))], store, settings)
    store.text.update(ids=[late["id"]], metadatas=[{"seq": 1}])  # as if written long before it became visible
    assert late["id"] in index.refresh().pos  # the count gave it away; it was read by id
    _same(index, CatalogIndex(store).refresh())


def test_table_builder_fills_one_array_and_copes_with_more_rows_than_expected(store, settings, tmp_path):
    from daogou.tools.catalog_table import TableBuilder

    ingest_catalogs([_write(tmp_path, _rows(30))], store, settings)
    whole = _table_from(store, capacity=30)
    for capacity in (0, 10, 100):
        other = _table_from(store, capacity=capacity)
        assert other.ids == whole.ids and np.array_equal(other.vectors, whole.vectors)
    assert TableBuilder(capacity=5).build().vectors.shape[0] == 0


def _table_from(store, capacity):
    from daogou.tools.catalog_table import TableBuilder

    builder = TableBuilder(capacity=capacity)
    for page in store.rows_since(None, page=7):
        builder.add(page)
    return builder.build()


def test_a_search_works_on_one_state_when_a_catch_up_lands_half_way(store, settings, tmp_path):
    from daogou.tools.search import SearchRequest, search_products

    ingest_catalogs([_write(tmp_path, _rows(20))], store, settings)
    index = CatalogIndex(store, background=True).refresh()
    ingest_catalogs([_write(tmp_path, _rows(20) + _rows(3, seed=5, prefix="N"))], store, settings)
    real_nearest = store.nearest_text

    def nearest_then_let_the_catch_up_land(*args, **kwargs):
        hits = real_nearest(*args, **kwargs)
        index._pending.join()  # the new state lands after the lexical scores and the mask, before the pool is scored
        return hits

    store.nearest_text = nearest_then_let_the_catch_up_land
    before = len(index.refresh())  # starts the catch-up, keeps the old state for this thread
    result = search_products(index, SearchRequest(text="红色连衣裙"))
    store.nearest_text = real_nearest
    assert before == 20 and result.cards and all(c.id in index.pos for c in result.cards)
    assert len(index.refresh()) == 23
