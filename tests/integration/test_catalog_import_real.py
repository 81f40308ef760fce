"""A shop's own files through the real CLI (real e5 + EfficientNet, persistent Chroma): a Shopify export with the
shop's currency, a CSV saved by Excel (BOM, CRLF) whose plain columns are attributes, a photo outside the catalog's
folder; then search in the shopper's language, filtered on what the shop wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.integration.helpers import _env, _run

pytestmark = pytest.mark.integration

SHOPIFY = ("Handle,Title,Body (HTML),Vendor,Type,Option1 Name,Option1 Value,Variant SKU,Variant Price,"
           "Variant Inventory Tracker,Variant Inventory Qty,Image Src,Status\r\n"
           "classic-tee,Classic cotton tee,<p>Soft <b>cotton</b>.</p>,Acme,T-Shirts,Color,Red,T-R,19.99,shopify,5,"
           "images/tee.png,active\r\n"
           "classic-tee,,,,,,Blue,T-B,21.00,shopify,0,,\r\n"
           "old-tee,Old tee,,Acme,T-Shirts,Title,Default Title,O-1,9.00,,,,archived\r\n")
SOCKS = ("\ufeffid,title,price,color,material,images\r\n"
         "SKU-1092,White crew socks,5.90,white,cotton,/etc/hostname.png\r\n"
         "SKU-1093,Black crew socks,6.90,black,wool,\r\n")


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("shop")
    (folder / "images").mkdir()
    Image.new("RGB", (96, 96), (200, 30, 30)).save(folder / "images" / "tee.png")
    (folder / "products_export.csv").write_text(SHOPIFY, encoding="utf-8", newline="")
    (folder / "socks.csv").write_text(SOCKS, encoding="utf-8", newline="")
    home = folder / "home"
    r = _run(["ingest", str(folder / "products_export.csv"), str(folder / "socks.csv"), "--currency", "USD", "--json"],
             _env(home))
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout)
    assert report["written"] == 3 and report["currencies"] == {"USD": 3} and report["warnings"] == []
    assert report["not_for_sale"] == {"archived": ["old-tee"]}
    assert report["attribute_columns"] == {"socks.csv": ["color", "material"]}
    assert len(report["image_problems"]) == 1 and "outside the catalog's folder" in report["image_problems"][0]
    return home


def test_what_the_shop_wrote_is_what_search_filters_on(shop: Path) -> None:
    r = _run(["search", "white socks", "--json"], _env(shop))
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert [p["id"] for p in out["products"]] == ["SKU-1092"]  # the colour filter read the CSV's color column
    socks = out["products"][0]
    assert socks["attributes"] == {"color": "white", "material": "cotton"} and socks["currency"] == "USD"
    assert socks["image"] is None  # the path outside the catalog's folder was dropped, never read
    tee = json.loads(_run(["search", "cotton tee", "--json"], _env(shop)).stdout)["products"][0]
    assert (tee["id"], tee["price"], tee["price_max"], tee["currency"]) == ("classic-tee", 19.99, 21.0, "USD")
    assert tee["attributes"] == {"Color": "Red/Blue"} and tee["image"].endswith("images/tee.png")


def test_search_answers_in_the_shoppers_language(shop: Path) -> None:
    english = _run(["search", "cotton tee"], _env(shop)).stdout
    assert "classic-tee  Classic cotton tee  $19.99–21  in stock (5)" in english and "库存" not in english
    chinese = _run(["search", "红色T恤"], _env(shop)).stdout
    assert "$19.99–21  有货（5件）" in chinese and "in stock" not in chinese
