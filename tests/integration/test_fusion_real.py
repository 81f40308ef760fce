"""Fusion on the real demo catalog: `daogou tune align`, text-to-image search, photo queries, `eval fusion`."""

from __future__ import annotations

import json
import random

import pytest
from PIL import Image

from daogou.evals.fusion_eval import perturb
from daogou.ingest.store import open_store
from daogou.settings import Settings
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.search import SearchRequest, search_products
from tests.integration.helpers import MODELS, _env, _run

pytestmark = pytest.mark.integration

# One kind of product per demo category, asked for in Chinese: (query, the category it belongs to)
KINDS = [("连衣裙", "服装"), ("跑步鞋", "鞋靴"), ("双肩包", "箱包"), ("口红", "美妆"), ("耳机", "数码"),
         ("台灯", "家居"), ("炒锅", "厨具"), ("篮球", "运动"), ("积木", "玩具"), ("巧克力", "食品"),
         ("小说", "图书"), ("猫粮", "宠物")]


@pytest.fixture(scope="module")
def aligned_home(demo_home):
    r = _run(["tune", "align", "--epochs", "120", "--json"], _env(demo_home))
    assert r.returncode == 0, r.stderr[-3000:]
    return demo_home, json.loads(r.stdout)


def _index(home) -> CatalogIndex:
    return CatalogIndex(open_store(Settings(home=home, models_path=MODELS))).refresh()


def test_tune_align_reports_held_out_alignment_above_chance(aligned_home):
    _, figures = aligned_home
    assert figures["products"] == 312 and figures["held_out"] > 0
    assert figures["final_loss"] < figures["first_loss"]
    held, chance = figures["held_out_recall"], figures["chance"]
    assert held["t2i@10"] > 2 * chance["@10"] and held["i2t@10"] > 2 * chance["@10"], figures


def test_text_to_image_search_returns_the_asked_category_above_chance(aligned_home):
    home, _ = aligned_home
    index = _index(home)
    shares = []
    for query, category in KINDS:
        res = search_products(index, SearchRequest(text=query, k=10, mode="image"))
        assert "text to image" in res.trace and len(res.cards) == 10
        shares.append(sum(c.category == category for c in res.cards) / 10)
    chance = 1 / 12  # 26 of the 312 products in each category
    assert sum(shares) / len(shares) > 3 * chance, list(zip(KINDS, shares, strict=True))


def test_mid_fusion_text_and_photo_search_keeps_the_asked_kind_first(aligned_home, demo_catalog):
    home, _ = aligned_home
    index = _index(home)
    row = next(json.loads(line) for line in demo_catalog.read_text(encoding="utf-8").splitlines()
               if "连衣裙" in json.loads(line)["title"])
    photo = perturb(Image.open(demo_catalog.parent / row["images"][0]), random.Random(0))
    res = search_products(index, SearchRequest(text="连衣裙", image=photo, k=5, fusion="mid"))
    assert "(mid fusion)" in res.trace and "unavailable" not in res.trace
    assert row["id"] in [c.id for c in res.cards[:3]]
    assert all(c.category == "服装" for c in res.cards), [c.title for c in res.cards]


def test_photo_upload_alone_finds_the_product_and_its_look_alikes(demo_home, demo_catalog, tmp_path):
    rng = random.Random(3)
    rows = [json.loads(line) for line in demo_catalog.read_text(encoding="utf-8").splitlines()]
    picked = rng.sample(rows, 6)
    same_category = 0
    for row in picked:
        photo = tmp_path / f"{row['id']}.jpg"
        perturb(Image.open(demo_catalog.parent / row["images"][0]), rng).save(photo)
        r = _run(["search", "", "--image", str(photo), "-k", "5", "--json"], _env(demo_home))
        assert r.returncode == 0, r.stderr[-2000:]
        products = json.loads(r.stdout)["products"]
        assert len(products) == 5
        assert row["id"] in [p["id"] for p in products[:3]], (row["title"], [p["title"] for p in products])
        same_category += sum(p["category"] == row["category"] for p in products[1:])
    assert same_category / (4 * len(picked)) > 0.5


def test_eval_fusion_runs_with_json(tmp_path):
    r = _run(["eval", "fusion", "--json", "--limit", "12", "--epochs", "60"], _env(tmp_path / "home"))
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout)
    assert set(report["text"]) == {"lexical", "dense", "hybrid", "image", "early", "mid", "late"}
    assert set(report["image"]) == {"image", "early", "mid", "late"}
    assert set(report["like"]) == {"text", "image", "early", "mid", "late"}
    for task in ("text", "image", "like"):
        assert report["queries"][task] > 0
        for metrics in report[task].values():
            assert 0.0 <= metrics["ndcg@10"] <= 1.0 and metrics["n"] == report["queries"][task]
    assert report["text"]["hybrid"]["ndcg@10"] > 0.5  # the query words are in the titles
