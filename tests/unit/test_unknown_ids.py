"""Ids the shopper types that this catalog does not have: said plainly, never replaced by the products on screen.

The same dialogue runs over three id shapes (the demo's "P####", "SKU-####", 12-digit numbers), so nothing here
leans on one catalog's way of numbering its products.
"""

from __future__ import annotations

import pytest

from daogou.agent.agent import Agent
from daogou.agent.reading import read_rules, unknown_ids
from daogou.agent.state import DialogueState
from daogou.ingest.pipeline import ingest_catalogs
from daogou.tools.catalog_index import CatalogIndex
from tests.unit.test_store_search import ROWS, _catalog

SHAPES = {
    "demo": lambda i: f"P{1001 + i}",
    "sku": lambda i: f"SKU-{1001 + i}",
    "num12": lambda i: str(100012345678 + 7 * i),
}
ABSENT = {"demo": ("P1442", "P1464"), "sku": ("SKU-1442", "SKU-1464"), "num12": ("100012349999", "100012348888")}


def _index(fake_store, settings, tmp_path, shape: str) -> CatalogIndex:
    rows = [dict(r, id=SHAPES[shape](i)) for i, r in enumerate(ROWS)]
    ingest_catalogs([_catalog(tmp_path, rows)], fake_store, settings)
    return CatalogIndex(fake_store).refresh()


@pytest.mark.parametrize("shape", list(SHAPES))
def test_compare_of_two_absent_ids_says_so_and_calls_no_tool(fake_store, settings, tmp_path, shape):
    index = _index(fake_store, settings, tmp_path, shape)
    agent, state = Agent(index), DialogueState()
    first = agent.run_turn(state, "连衣裙")
    assert len(first.products) >= 2  # two products on screen that a fallback could wrongly compare
    a, b = ABSENT[shape]
    r = agent.run_turn(state, f"compare {a} and {b}")
    assert r.tool_calls == [] and r.products == []
    assert a in r.text and b in r.text and "not in this shop's catalog" in r.text
    zh = agent.run_turn(state, f"{a.lower()}怎么样？")
    assert zh.tool_calls == [] and a.lower() in zh.text and "没有" in zh.text


@pytest.mark.parametrize("shape", list(SHAPES))
def test_ids_of_the_catalog_still_work_beside_the_check(fake_store, settings, tmp_path, shape):
    index = _index(fake_store, settings, tmp_path, shape)
    agent, state = Agent(index), DialogueState()
    one, two = SHAPES[shape](0), SHAPES[shape](1)
    r = agent.run_turn(state, f"compare {one} and {two}")
    assert r.tool_calls[0]["name"] == "compare_products"
    assert r.tool_calls[0]["args"]["product_ids"] == [one, two]


@pytest.mark.parametrize(("shape", "text"), [
    ("demo", "红色连衣裙 300元以内"),  # a price
    ("demo", "iPhone 15 Pro 256GB"),  # a model name and a capacity
    ("sku", "42码的跑鞋 2000元以内"),
    ("sku", "型号 XR-2000 的耳机"),  # letters and digits, but not the catalog's shape
    ("num12", "手机号 13800138000 的快递"),  # 11 digits: not a 12-digit id
    ("num12", "预算 30000 以内"),
])
def test_numbers_that_are_not_shaped_like_the_catalogs_ids_are_no_ids(fake_store, settings, tmp_path, shape, text):
    index = _index(fake_store, settings, tmp_path, shape)
    assert unknown_ids(text, index) == []
    assert read_rules(text, DialogueState(), index).unknown_ids == []


def test_a_lone_shape_is_no_pattern(fake_store, settings, tmp_path):
    """Only a shape two or more ids share counts: one odd id ("X-900") does not make "X-901" an id."""
    rows = [dict(r, id=SHAPES["sku"](i)) for i, r in enumerate(ROWS)]
    rows[0]["id"] = "X-900"
    ingest_catalogs([_catalog(tmp_path, rows)], fake_store, settings)
    index = CatalogIndex(fake_store).refresh()
    assert unknown_ids("X-901 还有吗", index) == []
    assert unknown_ids("SKU-9999 还有吗", index) == ["SKU-9999"]
