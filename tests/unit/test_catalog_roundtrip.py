"""Round trip per catalog format: what the shop wrote is what the store holds, what search filters on, and what
the agent's tools (`search_products`, `product_details`, `answer_about_product`) answer from.

Five shops, none shaped like the demo catalog (ids, currencies, attribute keys, languages are their own):
JSON Lines (a US shop with variants), CSV with plain columns as attributes (a EUR shop), a Shopify export (USD
given by the settings, a draft left out), a GBK-encoded CSV (a Chinese shop), and a CSV saved with a BOM and
CRLF line ends (a JPY shop). Each is ingested into a real in-memory Chroma store over fake encoders.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from daogou.ingest.filters import Filters
from daogou.ingest.pipeline import ingest_catalogs
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.details import answer_about_product, product_details
from daogou.tools.search import SearchRequest, search_products


def _csv_bytes(rows: list[list[str]], encoding: str = "utf-8", newline: str = "\n") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows(rows)
    return buf.getvalue().encode(encoding)


JSONL = [
    {"id": "SKU-1092", "title": "Merino crew socks", "price": 14, "currency": "USD", "category": "Socks",
     "brand": "Northwool", "attributes": {"Color": "White", "Material": "Merino wool"}, "stock": 40,
     "url": "https://northwool.example/p/1092"},
    {"id": "SKU-2210", "title": "Trail running socks", "currency": "USD", "category": "Socks", "brand": "Northwool",
     "attributes": {"Color": "Black/Blue", "Material": "Nylon"},
     "variants": [{"options": {"Color": "Black"}, "price": 16, "stock": 0, "sku": "2210-BK"},
                  {"options": {"Color": "Blue"}, "price": 18.5, "stock": 7, "sku": "2210-BL"}]},
]
CSV_EUR = [["id", "title", "price", "category", "color", "material", "tags"],
           ["A-1", "Linen shirt", "49.90", "Shirts", "white", "linen", "summer|linen"],
           ["A-2", "Wool coat", "189", "Coats", "grey", "wool", "winter"]]
SHOPIFY = [["Handle", "Title", "Body (HTML)", "Vendor", "Type", "Tags", "Option1 Name", "Option1 Value",
            "Variant SKU", "Variant Price", "Variant Inventory Tracker", "Variant Inventory Qty", "Status"],
           ["canvas-tote", "Canvas Tote", "<p>Sturdy <b>canvas</b>.</p>", "Baggu", "Bags", "eco", "Color", "Natural",
            "TOTE-N", "24.00", "shopify", "5", "active"],
           ["canvas-tote", "", "", "", "", "", "", "Black", "TOTE-B", "26.00", "shopify", "2", ""],
           ["leather-wallet", "Leather Wallet", "", "Baggu", "Wallets", "", "Title", "Default Title", "W-1", "39.00",
            "", "", "active"],
           ["secret-sample", "Unreleased sample", "", "Baggu", "Bags", "", "Title", "Default Title", "S-1", "1.00",
            "", "", "draft"]]
GBK = [["id", "title", "price", "category", "颜色", "材质", "stock"],
       ["100112573665", "羊毛开衫", "329", "针织衫", "米白", "羊毛", "12"],
       ["100112573666", "纯棉卫衣", "199", "卫衣", "黑色", "纯棉", "0"]]
BOM_CRLF = [["id", "title", "price", "currency", "attributes", "stock"],
            ["JP-77", "Hinoki cutting board", "4800", "jpy", "Material=hinoki;Size=M", "3"],
            ["JP-78", "Cast iron kettle", "12000", "JPY", '{"Material": "cast iron", "Color": "black"}', "1"]]


@dataclass(frozen=True)
class Shop:
    """One catalog format: how to write it, the settings it is ingested with, and what must come out of it."""

    name: str
    file: str
    data: Callable[[], bytes]
    currency: str | None  # the shop's currency setting (--currency / DAOGOU_CURRENCY)
    records: dict[str, dict]  # id -> fields the stored record must have
    colours: dict[str, list[str]]  # id -> canonical colours in the store's metadata (what colour filters read)
    search: tuple[str, Filters, list[str]]  # query, filters, the ids that must come back (in any order)
    detail: tuple[str, str, str]  # id, label, value: a fact product_details gives in English
    answer: tuple[str, str, str]  # id, question, text the answer's facts must hold
    left_out: tuple[str, ...] = ()


SHOPS = [
    Shop("jsonl", "catalog.jsonl",
         lambda: "\n".join(json.dumps(r) for r in JSONL).encode() + b"\n", None,
         {"SKU-1092": {"price": 14.0, "currency": "USD", "stock": 40,
                       "attributes": {"Color": "White", "Material": "Merino wool"}},
          "SKU-2210": {"price": 16.0, "currency": "USD", "stock": 7, "price_range": (16.0, 18.5)}},
         {"SKU-1092": ["白色"], "SKU-2210": ["黑色", "蓝色"]},
         ("socks", Filters(colors=("蓝色",)), ["SKU-2210"]),
         ("SKU-2210", "price", "$16–18.5"),
         ("SKU-2210", "how much is the blue one?", "Blue $18.5 (in stock (7))")),
    Shop("csv", "catalog.csv", lambda: _csv_bytes(CSV_EUR), "EUR",
         {"A-1": {"price": 49.9, "currency": "EUR", "tags": ["summer", "linen"],
                  "attributes": {"color": "white", "material": "linen"}},
          "A-2": {"price": 189.0, "currency": "EUR", "attributes": {"color": "grey", "material": "wool"}}},
         {"A-1": ["白色"], "A-2": ["灰色"]},
         ("coat", Filters(colors=("灰色",), price_max=200), ["A-2"]),
         ("A-1", "price", "€49.9"),
         ("A-1", "what material is it?", "linen")),
    Shop("shopify", "products_export.csv", lambda: _csv_bytes(SHOPIFY), "USD",
         {"canvas-tote": {"price": 24.0, "currency": "USD", "stock": 7, "brand": "Baggu", "category": "Bags",
                          "description": "Sturdy canvas.", "attributes": {"Color": "Natural/Black"},
                          "price_range": (24.0, 26.0)},
          "leather-wallet": {"price": 39.0, "currency": "USD", "stock": None, "attributes": {}}},
         {"canvas-tote": ["黑色"], "leather-wallet": []},
         ("tote", Filters(colors=("黑色",)), ["canvas-tote"]),
         ("canvas-tote", "variants", "Natural $24 (in stock (5)); Black $26 (in stock (2))"),
         ("canvas-tote", "how much is the black one?", "Black $26"),
         left_out=("secret-sample",)),
    Shop("gbk", "catalog.csv", lambda: _csv_bytes(GBK, "gbk"), None,
         {"100112573665": {"title": "羊毛开衫", "price": 329.0, "currency": "CNY", "stock": 12,
                           "attributes": {"颜色": "米白", "材质": "羊毛"}},
          "100112573666": {"title": "纯棉卫衣", "stock": 0, "attributes": {"颜色": "黑色", "材质": "纯棉"}}},
         {"100112573665": ["米色"], "100112573666": ["黑色"]},
         ("卫衣", Filters(colors=("黑色",)), ["100112573666"]),
         ("100112573665", "材质", "羊毛"),
         ("100112573665", "what material is it?", "羊毛")),
    Shop("bom-crlf", "catalog.csv", lambda: b"\xef\xbb\xbf" + _csv_bytes(BOM_CRLF, newline="\r\n"), None,
         {"JP-77": {"price": 4800.0, "currency": "JPY", "stock": 3, "attributes": {"Material": "hinoki", "Size": "M"}},
          "JP-78": {"price": 12000.0, "currency": "JPY", "attributes": {"Material": "cast iron", "Color": "black"}}},
         {"JP-77": [], "JP-78": ["黑色"]},
         ("kettle", Filters(colors=("黑色",), price_min=10000), ["JP-78"]),
         ("JP-77", "price", "JP¥4800"),
         ("JP-78", "what is it made of?", "cast iron")),
]


@pytest.mark.parametrize("shop", SHOPS, ids=[s.name for s in SHOPS])
def test_what_the_shop_wrote_is_what_search_and_the_agent_answer_from(shop: Shop, fake_store, settings,
                                                                       tmp_path: Path) -> None:
    path = tmp_path / shop.file
    path.write_bytes(shop.data())
    report = ingest_catalogs([path], fake_store, settings.with_(currency=shop.currency), progress=False)
    assert report.ok and report.written == len(shop.records), report.to_dict()
    assert sorted(fake_store.all_ids()) == sorted(shop.records)
    assert sum(report.not_for_sale.values(), []) == list(shop.left_out)
    # the store's records and metadata
    stored = {p.id: p for p in fake_store.get_products(list(shop.records))}
    for pid, fields in shop.records.items():
        for name, value in fields.items():
            got = stored[pid].price_range() if name == "price_range" else getattr(stored[pid], name)
            assert got == value, (pid, name)
    meta = fake_store.metadata(list(shop.records))
    for pid, colours in shop.colours.items():
        assert meta[pid].get("colors", []) == colours, pid
        assert meta[pid]["currency"] == stored[pid].currency
    # a search with a filter: exactly the products that meet it, as the catalog gives them
    index = CatalogIndex(fake_store).refresh()
    query, filters, expected = shop.search
    result = search_products(index, SearchRequest(text=query, filters=filters, k=10))
    assert not result.relaxed and sorted(c.id for c in result.cards) == sorted(expected)
    for card in result.cards:
        assert (card.price, card.currency) == (stored[card.id].price, stored[card.id].currency)
    # what the agent's tools read: details and answers, in the shopper's language, from the record only
    pid, label, value = shop.detail
    assert (label, value) in product_details(index, [pid], lang="en").facts[pid]
    pid, question, text = shop.answer
    answer = answer_about_product(index, pid, question, lang="en")
    assert answer.found and any(text in f.value for f in answer.facts), answer.facts


def test_currency_setting_applies_only_where_the_catalog_states_none(fake_store, settings, tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"id": "M1", "title": "a", "price": 1}\n{"id": "M2", "title": "b", "price": 2, '
                    '"currency": "GBP"}\n', encoding="utf-8")
    report = ingest_catalogs([path], fake_store, settings.with_(currency="EUR"), progress=False)
    assert {p.id: p.currency for p in fake_store.get_products(["M1", "M2"])} == {"M1": "EUR", "M2": "GBP"}
    assert report.currencies == {"EUR": 1, "GBP": 1} and report.currency_defaulted == {"mixed.jsonl": 1}
    assert report.warnings == []  # the shop said its currency: a note, not a warning
    assert report.notes() == ["currency (mixed.jsonl): no currency stated for 1 product; given EUR, the shop's "
                              "currency (--currency / DAOGOU_CURRENCY)"]
    assert "prices in EUR (1), GBP (1)" in report.summary()


def test_a_product_the_export_now_marks_draft_is_withdrawn_from_the_store(fake_store, settings, tmp_path) -> None:
    path = tmp_path / "products_export.csv"
    rows = [r[:] for r in SHOPIFY]
    rows[4][-1] = "active"  # the sample is on sale at first
    path.write_bytes(_csv_bytes(rows))
    ingest_catalogs([path], fake_store, settings.with_(currency="USD"), progress=False)
    assert "secret-sample" in fake_store.all_ids()
    rows[4][-1] = "archived"
    path.write_bytes(_csv_bytes(rows))
    report = ingest_catalogs([path], fake_store, settings.with_(currency="USD"), progress=False)
    assert report.withdrawn == ["secret-sample"] and "secret-sample" not in fake_store.all_ids()
    assert report.stale == [] and report.ok
    assert "withdrawn from the store" in "\n".join(report.notes())


def test_a_value_removed_from_the_catalog_no_longer_filters(fake_store, settings, tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "R1", "title": "Scarf", "price": 30, "attributes": {"Color": "red", "Size": "M"}}\n',
                    encoding="utf-8")
    ingest_catalogs([path], fake_store, settings, progress=False)
    path.write_text('{"id": "R1", "title": "Scarf"}\n', encoding="utf-8")  # no colour, size or price any more
    ingest_catalogs([path], fake_store, settings, progress=False)
    meta = fake_store.metadata(["R1"])["R1"]
    assert "colors" not in meta and "sizes" not in meta and "price" not in meta
    index = CatalogIndex(fake_store).refresh()
    for filters in (Filters(colors=("红色",)), Filters(sizes=("M",)), Filters(price_max=100)):
        assert search_products(index, SearchRequest(text="scarf", filters=filters)).relaxed, filters
