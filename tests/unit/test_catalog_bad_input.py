"""The catalog half of the bad-input matrix: every kind of bad catalog row, ingested, with its expected outcome.

One case per row of the README table "What happens to bad catalog input" (the test checks that the table and
these cases name the same ids). Each case writes a catalog holding one good product (G1) and the bad one (B1),
ingests it into a real in-memory Chroma store over fake encoders, and checks what the shop is told and what
the store ends up holding:

- rejected:  the row is reported (file:line: reason matching `match`) and not stored; G1 still goes in;
- text-only: B1 goes in without an image vector; the image problem (matching `match`) is reported, and a
  path outside the catalog's folder is not kept in the record;
- accepted:  B1 goes in; `match` is found in the ingest's warnings and notes (or the product passes `check`);
- left out:  B1 is not for sale (a Shopify status): counted, not stored, not an error;
- refused:   the whole file is refused before anything is written (error matching `match`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from daogou.ingest.pipeline import IngestError, ingest_catalogs
from daogou.ingest.readers import CatalogFormatError
from daogou.ingest.schema import Product

README = Path(__file__).parents[2] / "README.md"
GOOD = {"id": "G1", "title": "Good mug", "price": 9.5, "currency": "EUR", "attributes": {"Color": "white"}}
SHOPIFY = ["Handle", "Title", "Body (HTML)", "Vendor", "Type", "Option1 Name", "Option1 Value", "Variant SKU",
           "Variant Price", "Variant Inventory Qty", "Image Src", "Status"]


def _jsonl(rows: list[dict | str], name: str = "catalog.jsonl") -> Callable[[Path], list[Path]]:
    def build(folder: Path) -> list[Path]:
        path = folder / name
        lines = [json.dumps(GOOD)] + [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return [path]
    return build


def _row(**fields: object) -> Callable[[Path], list[Path]]:
    return _jsonl([{"id": "B1", "title": "Bad row", **fields}])


def _csv(rows: list[list[str]], header: list[str] | None = None) -> Callable[[Path], list[Path]]:
    def build(folder: Path) -> list[Path]:
        buf = io.StringIO()
        head = header or ["id", "title", "price", "currency", "attributes"]
        csv.writer(buf, lineterminator="\n").writerows([head, ["G1", "Good mug", "9.5", "EUR", ""], *rows])
        path = folder / "catalog.csv"
        path.write_text(buf.getvalue(), encoding="utf-8")
        return [path]
    return build


def _shopify(rows: list[list[str]]) -> Callable[[Path], list[Path]]:
    def build(folder: Path) -> list[Path]:
        buf = io.StringIO()
        good = ["g1", "Good mug", "", "Acme", "Mugs", "Title", "Default Title", "M-1", "9.50", "3", "", "active"]
        csv.writer(buf, lineterminator="\n").writerows([SHOPIFY, good, *rows])
        path = folder / "products_export.csv"
        path.write_text(buf.getvalue(), encoding="utf-8")
        return [path]
    return build


def _raw(name: str, data: bytes) -> Callable[[Path], list[Path]]:
    def build(folder: Path) -> list[Path]:
        path = folder / name
        path.write_bytes(data)
        return [path]
    return build


def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), (200, 40, 40)).save(path)
    return path


def _with_image(ref: Callable[[Path], str]) -> Callable[[Path], list[Path]]:
    """A catalog whose B1 names the image `ref(folder)` (the catalog lives in folder/shop)."""
    def build(folder: Path) -> list[Path]:
        shop = folder / "shop"
        shop.mkdir()
        return _jsonl([{"id": "B1", "title": "Pictured", "images": [ref(folder)]}])(shop)
    return build


def _outside(folder: Path) -> str:
    return str(_png(folder / "elsewhere" / "photo.png"))


def _symlink_out(folder: Path) -> str:
    link = folder / "shop" / "img" / "link.png"
    link.parent.mkdir(parents=True)
    link.symlink_to(_png(folder / "elsewhere" / "target.png"))
    return "img/link.png"


def _inside_absolute(folder: Path) -> str:
    return str(_png(folder / "shop" / "img" / "a.png"))


def _corrupt(folder: Path) -> str:
    path = folder / "shop" / "img" / "broken.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    return "img/broken.png"


def _folder_as_image(folder: Path) -> str:
    (folder / "shop" / "img" / "dir.png").mkdir(parents=True)
    return "img/dir.png"


def _two_files(folder: Path) -> list[Path]:
    first = _jsonl([], "a.jsonl")(folder)[0]
    second = folder / "b.jsonl"
    second.write_text(json.dumps({"id": "G1", "title": "Same id, other file"}) + "\n", encoding="utf-8")
    return [first, second]


def _deep(opening: str, closing: str, depth: int = 100_000) -> str:
    return opening * depth + closing * depth


@dataclass(frozen=True)
class Case:
    """One kind of bad catalog input and what must happen to it (see the module docstring)."""

    id: str
    build: Callable[[Path], list[Path]]
    outcome: str  # rejected | text-only | accepted | left out | refused
    match: str  # regex: in the row's reason, the image problem, a warning/note, or the refusal
    settings: dict = field(default_factory=dict)
    check: Callable[[Product], bool] | None = None


CASES = [
    # JSON structure
    Case("malformed-json", _jsonl(['{"id": "B1", "title": ']), "rejected", r"invalid JSON"),
    Case("not-an-object", _jsonl(['["B1", "a list"]']), "rejected", r"expected a JSON object.*got list"),
    Case("nested-json-100k", _jsonl([_deep("[", "]")]), "rejected", r"nested too deeply"),
    Case("nested-attributes-100k", _jsonl(['{"id": "B1", "title": "x", "attributes": ' + '{"a":' * 100_000 + "1"
                                           + "}" * 100_000 + "}"]), "rejected", r"nested too deeply"),
    Case("json-list-nested-100k", _raw("catalog.json", ("[" + json.dumps(GOOD) + ", " + _deep("[", "]") + "]")
                                       .encode()), "rejected", r"nested too deeply.*rest of this \.json"),
    # id and title
    Case("missing-id", _jsonl([{"title": "No id"}]), "rejected", r"^id: Field required"),
    Case("missing-title", _jsonl([{"id": "B1"}]), "rejected", r"^title: Field required"),
    Case("blank-title", _row(title="   "), "rejected", r"title: String should have at least 1 character"),
    Case("id-not-text", _jsonl([{"id": True, "title": "x"}]), "rejected", r"id must be a string"),
    Case("id-too-long", _jsonl([{"id": "B" * 201, "title": "x"}]), "rejected", r"id: .*at most 200"),
    Case("title-too-long", _row(title="t" * 501), "rejected", r"title: .*at most 500"),
    Case("description-too-long", _row(description="d" * 20_001), "rejected", r"description: .*at most 20000"),
    Case("duplicate-id-in-file", _jsonl([{"id": "G1", "title": "Again"}]), "rejected",
         r"duplicate id G1 \(first seen on line 1\)"),
    Case("duplicate-id-across-files", _two_files, "rejected", r"duplicate id G1 \(first seen in a\.jsonl:1\)"),
    # price, currency, stock
    Case("negative-price", _row(price=-1), "rejected", r"price -1 is negative"),
    Case("nan-price", _jsonl(['{"id": "B1", "title": "x", "price": NaN}']), "rejected", r"not a finite number"),
    Case("absurd-price", _row(price=1e12), "rejected", r"absurd"),
    Case("text-price", _row(price="cheap"), "rejected", r"price 'cheap' is not a number"),
    Case("bool-price", _row(price=True), "rejected", r"price must be a number"),
    Case("formatted-price", _row(price="¥1,299.00"), "accepted", "", check=lambda p: p.price == 1299.0),
    Case("bad-currency", _row(currency="dollars"), "rejected", r"'dollars' is not a 3-letter ISO code"),
    Case("no-currency", _row(price=5), "accepted",
         r"no currency stated for 1 product .*given CNY, the default.*--currency CODE",
         check=lambda p: p.currency == "CNY"),
    Case("negative-stock", _row(stock=-2), "rejected", r"stock -2 is negative"),
    Case("fractional-stock", _row(stock=2.5), "rejected", r"stock 2\.5 is not a whole number"),
    Case("text-stock", _row(stock="many"), "rejected", r"stock 'many' is not a whole number"),
    # attributes, tags, images list, url, variants: shapes and sizes
    Case("attributes-not-object", _row(attributes=["red"]), "rejected", r"attributes must be an object"),
    Case("attribute-nested-value", _row(attributes={"Color": {"a": 1}}), "rejected", r"'Color' must be text"),
    Case("too-many-attributes", _row(attributes={f"k{i}": "v" for i in range(101)}), "rejected",
         r"101 keys, over the limit of 100"),
    Case("attribute-key-too-long", _row(attributes={"k" * 101: "v"}), "rejected", r"a key is 101 characters"),
    Case("attribute-value-too-long", _row(attributes={"Care": "w" * 2001}), "rejected",
         r"attributes\.Care: the value is 2,001 characters"),
    Case("tags-not-list", _row(tags={"a": 1}), "rejected", r"tags: expected a list of strings"),
    Case("tags-nested", _row(tags=[["a"]]), "rejected", r"nested object or list"),
    Case("too-many-tags", _row(tags=[f"t{i}" for i in range(251)]), "rejected", r"251 tags, over the limit of 250"),
    Case("tag-too-long", _row(tags=["t" * 256]), "rejected", r"a tag is 256 characters"),
    Case("too-many-images", _row(images=[f"img/{i}.png" for i in range(51)]), "rejected",
         r"51 images, over the limit of 50"),
    Case("url-javascript", _row(url="javascript:alert(1)"), "rejected", r"not an http:// or https:// address"),
    Case("url-file", _row(url="file:///etc/passwd"), "rejected", r"not an http:// or https:// address"),
    Case("url-no-host", _row(url="https://"), "rejected", r"not an http:// or https:// address"),
    Case("url-too-long", _row(url="https://shop.example/" + "p" * 3000), "rejected", r"the url is 3,021 characters"),
    Case("variants-not-list", _row(variants={"Size": "M"}), "rejected", r"variants must be a list"),
    Case("variant-bad-price", _row(variants=[{"options": {"Size": "M"}, "price": "free"}]), "rejected",
         r"variants\.0\.price: variant price 'free' is not a number"),
    Case("too-many-variants", _row(variants=[{"sku": f"s{i}"} for i in range(2049)]), "rejected",
         r"2049 variants, over the limit of 2048"),
    # images: confined to the catalog's folder, never fetched, never fatal
    Case("image-absolute-outside", _with_image(_outside), "text-only", r"leads outside the catalog's folder"),
    Case("image-dotdot", _with_image(lambda f: (_outside(f), "../elsewhere/photo.png")[1]), "text-only",
         r"leads outside the catalog's folder"),
    Case("image-symlink-out", _with_image(_symlink_out), "text-only", r"leads outside the catalog's folder"),
    Case("image-absolute-inside", _with_image(_inside_absolute), "accepted", "", check=lambda p: len(p.images) == 1),
    Case("image-allowed-root", _with_image(_outside), "accepted", "", settings={"image_roots": ("elsewhere",)},
         check=lambda p: p.images[0].endswith("photo.png")),
    Case("image-missing", _with_image(lambda f: "img/none.png"), "text-only", r"does not exist"),
    Case("image-corrupt", _with_image(_corrupt), "text-only", r"not an image|corrupt|truncated"),
    Case("image-not-a-file", _with_image(_folder_as_image), "text-only", r"is not a file"),
    Case("image-too-many-pixels", _with_image(_inside_absolute), "text-only", r"too many pixels",
         settings={"max_image_pixels": 100}),
    Case("image-remote-url", _with_image(lambda f: "https://cdn.example/a.jpg"), "text-only", r"not fetched"),
    # CSV
    Case("csv-extra-cells", _csv([["B1", "x", "1", "EUR", "", "spill"]]), "rejected",
         r"6 cells but the header has 5 columns"),
    Case("csv-unclosed-quote", _raw("catalog.csv", b'id,title,price\nG1,Good mug,9.5\nB1,"never closed,1\n'),
         "rejected", r"malformed CSV.*never closed"),
    Case("csv-attributes-bad-json", _csv([["B1", "x", "1", "EUR", "{bad json"]]), "rejected",
         r"attributes: invalid JSON"),
    Case("csv-attributes-not-pairs", _csv([["B1", "x", "1", "EUR", "just words"]]), "rejected", r"not key=value"),
    Case("csv-unnamed-column", _csv([["B1", "x", "1", "EUR", "", "lost?"]],
                                    ["id", "title", "price", "currency", "attributes", ""]), "accepted",
         r"column\(s\) 6 have no name"),
    Case("csv-unknown-column", _csv([["B1", "x", "1", "EUR", "", "cotton"]],
                                    ["id", "title", "price", "currency", "attributes", "material"]), "accepted",
         r"attributes from columns \(catalog\.csv\): material", check=lambda p: p.attributes == {"material": "cotton"}),
    # Shopify export
    Case("shopify-no-handle", _shopify([["", "Orphan", "", "", "", "", "", "", "1", "", "", "active"]]), "rejected",
         r"no Handle"),
    Case("shopify-no-title", _shopify([["b1", "", "<p>x</p>", "", "", "", "", "", "1", "", "", "active"]]),
         "rejected", r"no Title"),
    Case("shopify-bad-variant-price", _shopify([["b1", "Lamp", "", "", "", "", "", "", "twelve", "", "", "active"]]),
         "rejected", r"Variant Price 'twelve'"),
    Case("shopify-split-handle", _shopify([["c1", "Cup", "", "", "", "", "", "", "4", "", "", "active"],
                                           ["g1", "", "", "", "", "", "", "", "9", "", "", ""]]), "rejected",
         r"duplicate id g1 \(first seen on line 2\); keep a product's Shopify rows together"),
    Case("shopify-draft", _shopify([["b1", "Draft", "", "", "", "", "", "", "5", "", "", "draft"]]), "left out", ""),
    Case("shopify-archived", _shopify([["b1", "Old", "", "", "", "", "", "", "5", "", "", "archived"]]), "left out",
         ""),
    Case("shopify-no-currency", _shopify([["b1", "Bowl", "", "", "", "", "", "", "8", "", "", "active"]]),
         "accepted", r"a Shopify export has no currency column"),
    # whole files
    Case("empty-file", _raw("catalog.jsonl", b""), "refused", r"holds no product rows"),
    Case("blank-lines-only", _raw("catalog.jsonl", b"\n \r\n\n"), "refused", r"holds no product rows"),
    Case("empty-json-list", _raw("catalog.json", b"[]"), "refused", r"holds no product rows"),
    Case("header-only-csv", _raw("catalog.csv", b"id,title,price\n"), "refused", r"holds only a header row"),
    Case("empty-csv", _raw("catalog.csv", b""), "refused", r"empty CSV, no header row"),
    Case("csv-without-id-column", _raw("catalog.csv", b"sku,name\n1,a\n"), "refused", r"lacks the required column"),
    Case("undecodable-bytes", _raw("catalog.jsonl", b'{"id": "B1", "title": "\x80\xff\xfe"}\n'), "refused",
         r"neither UTF-8.*GBK"),
    Case("unknown-extension", _raw("catalog.xlsx", b"PK\x03\x04"), "refused", r"unknown catalog extension"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_catalog_input(case: Case, fake_store, settings, tmp_path: Path) -> None:
    paths = case.build(tmp_path)
    overrides = dict(case.settings)
    if "image_roots" in overrides:
        overrides["image_roots"] = tuple(tmp_path / r for r in overrides["image_roots"])
    s = settings.with_(**overrides)
    if case.outcome == "refused":
        with pytest.raises((IngestError, CatalogFormatError), match=case.match):
            ingest_catalogs(paths, fake_store, s, progress=False)
        assert fake_store.count() == 0  # nothing was written
        return
    report = ingest_catalogs(paths, fake_store, s, progress=False)
    stored = {p.id: p for p in fake_store.get_products(["G1", "g1", "B1", "b1"])}
    assert {"G1", "g1"} & set(stored), "the good row must go in whatever the bad one does"
    bad = stored.get("B1") or stored.get("b1")
    if case.outcome == "rejected":
        assert bad is None and len(report.rejected) == 1, report.rejected
        assert re.search(case.match, report.rejected[0].reason), str(report.rejected[0])
        assert re.match(r"^[\w.]+:\d+:", str(report.rejected[0]))  # file:line: reason
        return
    assert not report.rejected, report.rejected
    if case.outcome == "left out":
        assert bad is None and "b1" in sum(report.not_for_sale.values(), [])
        return
    assert bad is not None
    if case.outcome == "text-only":
        assert fake_store.image_vectors([bad.id]) == {}
        assert len(report.image_problems) == 1 and re.search(case.match, report.image_problems[0].reason)
        shop = (tmp_path / "shop").resolve()
        assert all(i.startswith("https://") or Path(i).is_relative_to(shop) for i in bad.images)
        return
    said = "\n".join(report.warnings + report.notes())
    assert re.search(case.match, said), said
    assert case.check is None or case.check(bad), bad


def test_the_readme_table_lists_exactly_these_cases() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("### What happens to bad catalog input", 1)[1].split("\n#", 1)[0]
    listed = re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.M)
    assert listed == [c.id for c in CASES]
    assert len(CASES) >= 30
