"""dense.py: the k-NN plan per query shape, each way's results against brute force, over a real in-memory Chroma."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from daogou.ingest.filters import Filters
from daogou.ingest.pipeline import ingest_catalogs
from daogou.tools import dense
from daogou.tools.catalog_index import CatalogIndex

COLOURS = {"红色": (220, 30, 30), "蓝色": (30, 60, 220), "黑色": (20, 20, 20), "白色": (240, 240, 240)}
KINDS = ["连衣裙", "跑步鞋", "耳机", "保温杯", "双肩包", "台灯"]


@pytest.fixture
def index(fake_store, settings, tmp_path):
    (tmp_path / "img").mkdir()
    rows = []
    for i in range(240):
        colour = list(COLOURS)[i % 4]
        Image.new("RGB", (32, 32), COLOURS[colour]).save(tmp_path / "img" / f"{i}.png")
        rows.append({"id": f"P{i:03d}", "title": f"{colour}{KINDS[i % 6]} 款式{i % 17}", "price": 10 + (i * 7) % 500,
                     "category": ["服装", "数码", "家居"][i % 3], "attributes": {"颜色": colour},
                     "images": [f"img/{i}.png"], "stock": i % 5})
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    ingest_catalogs([path], fake_store, settings)
    return CatalogIndex(fake_store).refresh()


def _brute(index, q, mask, k):
    scores = np.where(mask, index.vectors_of(range(len(index))) @ q, -np.inf)
    order = np.lexsort((np.arange(len(scores)), -scores))[:min(k, int(mask.sum()))]
    return order, scores[order]


def test_the_plan_follows_the_share_the_mask_lets_through(monkeypatch):
    monkeypatch.setattr(dense, "EXACT_BUDGET", 150_000)
    assert dense.plan(1_000_000, 1_000_000, 50) == "hnsw"
    assert dense.plan(1_000_000, 30_000, 50) == "exact"  # few rows: gathering them costs 150k rows' worth
    assert dense.plan(1_000_000, 40_000, 50) == "exact"  # dearer, but an over-fetch of 5,000 would exceed MAX_FETCH
    assert dense.plan(1_000_000, 90_000, 50) == "hnsw+mask"  # one colour of a million: fetch 2,223
    assert dense.plan(1_000_000, 600_000, 50) == "hnsw+mask"  # fetch 334
    assert dense.plan(100_000, 67_000, 50) == "exact"  # a pass over 100k rows is within the budget
    assert dense.exact_cost(100_000, 67_000) == 100_000 and dense.exact_cost(100_000, 10_000) == 50_000


def test_every_way_returns_masked_rows_best_first(index, monkeypatch):
    q = index.store.embed_query("红色连衣裙")
    for filters in (Filters(), Filters(colors=("红色",)), Filters(price_max=200), Filters(categories=("服装",))):
        mask = index.mask(filters)
        want_rows, want_scores = _brute(index, q, mask, 20)
        rows, scores, how = dense.nearest_rows(index, q, 20, mask)
        assert mask[rows].all() and list(scores) == sorted(scores, reverse=True)
        np.testing.assert_allclose(scores, want_scores, rtol=1e-5)  # 240 products: the HNSW is exact here
        if how == "exact":
            assert rows.tolist() == want_rows.tolist()
    monkeypatch.setattr(dense, "EXACT_BUDGET", 0)  # force the over-fetch on a broad mask
    mask = index.mask(Filters(price_max=400))
    rows, scores, how = dense.nearest_rows(index, q, 10, mask)
    assert how == "hnsw+mask" and mask[rows].all()
    np.testing.assert_allclose(scores, _brute(index, q, mask, 10)[1], rtol=1e-5)


def test_too_few_passing_the_mask_falls_back_to_the_exact_pass(index, monkeypatch):
    monkeypatch.setattr(dense, "EXACT_BUDGET", 0)
    monkeypatch.setattr(dense, "MIN_FETCH", 1)
    monkeypatch.setattr(dense, "OVER_FETCH", 0.01)  # asks the HNSW for too few neighbours on purpose
    q = index.store.embed_query("蓝色耳机")
    mask = index.mask(Filters(categories=("数码",)))
    rows, _, how = dense.nearest_rows(index, q, 30, mask)
    assert how == "hnsw+mask->exact" and rows.tolist() == _brute(index, q, mask, 30)[0].tolist()


def test_an_empty_mask_gives_nothing(index):
    q = index.store.embed_query("x")
    rows, scores, how = dense.nearest_rows(index, q, 10, np.zeros(len(index), dtype=bool))
    assert len(rows) == 0 and how == "none"
    assert dense.nearest_images(index, np.ones(24, np.float32), 5, np.zeros(len(index), bool), Filters()) == []


def test_image_neighbours_respect_the_mask(index, monkeypatch):
    red = index.store.embed_image(Image.new("RGB", (40, 40), COLOURS["红色"]))
    for budget in (150_000, 0):  # Chroma's where-filtered HNSW, then the over-fetch
        monkeypatch.setattr(dense, "EXACT_BUDGET", budget)
        for filters in (Filters(), Filters(price_max=300), Filters(categories=("家居",))):
            mask = index.mask(filters)
            hits = dense.nearest_images(index, red, 8, mask, filters)
            assert len(hits) == 8 and all(mask[index.pos[pid]] for pid, _ in hits)
            assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        assert all(index.meta[index.pos[pid]]["colors"] == ["红色"] for pid, _ in hits)
