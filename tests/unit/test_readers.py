"""Catalog readers: JSONL / JSON / CSV / Shopify export -> Product | RowError, with file:line."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from daogou.ingest.readers import CatalogFormatError, CatalogReader, detect_format, html_to_text, read_catalog
from daogou.ingest.schema import Product, RowError, Variant
from daogou.ingest.shopify import is_shopify_header

FIXTURES = Path(__file__).parents[1] / "fixtures" / "catalogs"


def _read(path: Path, **kw: object) -> tuple[dict[str, Product], list[RowError]]:
    products: dict[str, Product] = {}
    errors: list[RowError] = []
    for item in read_catalog(path, **kw):  # type: ignore[arg-type]
        if isinstance(item, RowError):
            errors.append(item)
        else:
            products[item.id] = item
    return products, errors


def _csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


# --- JSON Lines -------------------------------------------------------------------------------------

def test_good_jsonl_reads_every_product() -> None:
    products, errors = _read(FIXTURES / "good.jsonl")
    assert errors == []
    assert list(products) == ["P1001", "P1002", "1003"]  # file order; a numeric id becomes text
    assert products["P1001"].attributes == {"颜色": "白色", "尺码": "M"}
    assert products["P1001"].images == ["images/p1001.jpg"]  # kept as written, relative to the file
    assert products["P1002"].price == 599.0 and products["P1002"].tags == ["冬季", "保暖"]
    assert products["1003"].currency == "USD"


def test_bad_jsonl_rows_are_reported_with_line_and_good_rows_still_come() -> None:
    items = list(read_catalog(FIXTURES / "bad_rows.jsonl"))
    errors = {e.line: e for e in items if isinstance(e, RowError)}
    assert [p.id for p in items if isinstance(p, Product)] == ["P2001", "P2009"]
    assert sorted(errors) == [2, 3, 4, 5, 6, 8]  # line 7 is blank and skipped
    assert errors[2].reason.startswith("invalid JSON:")
    assert "JSON object" in errors[3].reason and "list" in errors[3].reason
    assert "price" in errors[4].reason and "absurd" in errors[4].reason and errors[4].product_id == "P2004"
    assert "stock" in errors[5].reason and "negative" in errors[5].reason
    assert "title" in errors[6].reason
    assert errors[8].reason == "duplicate id P2001 (first seen on line 1)"
    assert str(errors[8]).startswith("bad_rows.jsonl:8: [P2001] ")


def test_jsonl_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "B1", "title": "\xe6\xa3\x89\xe8\xa2\x9c"}\r\n\r\n{"id": "B2"}\r\n')
    items = list(read_catalog(path))
    assert isinstance(items[0], Product) and items[0].id == "B1" and items[0].title == "棉袜"
    assert isinstance(items[1], RowError) and items[1].line == 3


def test_gbk_jsonl_and_csv_fall_back_to_gb18030(tmp_path: Path) -> None:
    jsonl = tmp_path / "gbk.jsonl"
    jsonl.write_bytes('{"id": "G1", "title": "羊毛衫", "attributes": {"颜色": "灰色"}}\n'.encode("gbk"))
    products, errors = _read(jsonl)
    assert errors == [] and products["G1"].title == "羊毛衫" and products["G1"].attributes == {"颜色": "灰色"}
    table = tmp_path / "gbk.csv"
    table.write_bytes("id,title,price\nG2,真皮钱包,199\n".encode("gbk"))
    products, errors = _read(table)
    assert errors == [] and products["G2"].title == "真皮钱包"


def test_undecodable_file_is_a_format_error_naming_the_file_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "junk.jsonl"
    path.write_bytes(b'{"id": "X", "title": "\x80\xff\xfe"}\n')
    with pytest.raises(CatalogFormatError, match=r"junk\.jsonl.*UTF-8"):
        read_catalog(path)


def test_unknown_extension_raises_at_call_time(tmp_path: Path) -> None:
    path = tmp_path / "catalog.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(CatalogFormatError, match=r"catalog\.xlsx.*'\.xlsx'.*CSV UTF-8"):
        read_catalog(path)  # no iteration needed: whole-file problems are raised eagerly


# --- JSON -------------------------------------------------------------------------------------------

def test_json_list_reports_the_line_each_object_starts_on(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text('[\n  {"id": "J1", "title": "一"},\n  {"id": "J2",\n   "title": ""},\n  7,\n'
                    '  {"id": "J3", "title": "三"}\n]\n', encoding="utf-8")
    assert detect_format(path) == "json"
    items = list(read_catalog(path))
    assert [(type(i).__name__, i.line if isinstance(i, RowError) else i.id) for i in items] == [
        ("Product", "J1"), ("RowError", 3), ("RowError", 5), ("Product", "J3")]


def test_broken_json_list_keeps_earlier_objects_and_says_where_it_broke(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[{"id": "J1", "title": "一"},\n {"id": "J2", "title": }\n, {"id": "J3", "title": "三"}]')
    items = list(read_catalog(path))
    assert isinstance(items[0], Product)
    assert isinstance(items[1], RowError) and items[1].line == 2
    assert "rest of this .json file" in items[1].reason
    assert len(items) == 2


def test_json_file_holding_json_lines_is_read_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "lines.json"
    path.write_text('{"id": "L1", "title": "一"}\n{"id": "L2", "title": "二"}\n', encoding="utf-8")
    assert detect_format(path) == "jsonl"
    assert [p.id for p in read_catalog(path)] == ["L1", "L2"]  # type: ignore[union-attr]


# --- our CSV ----------------------------------------------------------------------------------------

def test_csv_fixture_fields_attributes_and_defaults() -> None:
    products, _ = _read(FIXTURES / "products.csv")
    dress, shoes, scarf = products["P3001"], products["P3002"], products["P3003"]
    assert dress.attributes == {"颜色": "红色", "尺码": "M", "材质": "桑蚕丝"}  # JSON + attr: column
    assert dress.tags == ["夏季", "女装"] and dress.images == ["images/p3001.jpg", "images/p3001b.jpg"]
    assert dress.description == "夏季新款\n优雅大方" and dress.stock == 15
    assert shoes.attributes == {"颜色": "黑色", "尺码": "42"}  # k=v;k=v
    assert shoes.tags == ["跑步", "运动"] and shoes.stock is None and shoes.currency == "CNY"
    assert scarf.attributes == {"颜色": "灰色", "尺码": "均码", "材质": "羊毛"}  # k:v|k:v
    assert products["P3009"].description == "" and products["P3009"].url == ""


def test_csv_errors_carry_physical_line_numbers_across_multiline_cells() -> None:
    items = list(read_catalog(FIXTURES / "products.csv"))
    assert [p.id for p in items if isinstance(p, Product)] == ["P3001", "P3002", "P3003", "P3009"]
    errors = {e.line: e.reason for e in items if isinstance(e, RowError)}
    # P3001 spans lines 2-3 and P3003 lines 5-7, so the bad rows sit on lines 8..13
    assert sorted(errors) == [8, 9, 10, 11, 12, 13]
    assert "title" in errors[8]
    assert "price" in errors[9] and "absurd" in errors[9]
    assert "stock" in errors[10] and "negative" in errors[10]
    assert errors[11] == "duplicate id P3001 (first seen on line 2)"
    assert errors[12].startswith("attributes: invalid JSON")
    assert "14 cells" in errors[13] and "13 columns" in errors[13]


@pytest.mark.parametrize(("cell", "expected"), [
    ('{"颜色": "红色", "件数": 2}', {"颜色": "红色", "件数": "2"}),
    ("颜色=红色;尺码=M", {"颜色": "红色", "尺码": "M"}),
    ("颜色:红色|尺码:M", {"颜色": "红色", "尺码": "M"}),
    ("颜色=红色,尺码=M", {"颜色": "红色", "尺码": "M"}),
    ("颜色：红色；尺码：XL", {"颜色": "红色", "尺码": "XL"}),
    ("时间=10:00", {"时间": "10:00"}),
])
def test_csv_attribute_cell_forms(tmp_path: Path, cell: str, expected: dict[str, str]) -> None:
    path = tmp_path / "a.csv"
    path.write_text(_csv_text([["id", "title", "attributes"], ["A1", "测试", cell]]), encoding="utf-8")
    products, errors = _read(path)
    assert errors == [] and products["A1"].attributes == expected


def test_csv_attribute_cell_without_key_value_is_a_row_error(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id,title,attributes.颜色,attributes\nA1,测试,红色,just words\nA2,好,蓝色,\n",
                    encoding="utf-8")
    items = list(read_catalog(path))
    assert isinstance(items[0], RowError) and items[0].line == 2 and "key=value" in items[0].reason
    assert isinstance(items[1], Product) and items[1].attributes == {"颜色": "蓝色"}


def test_csv_bom_header_tab_delimiter_and_header_case(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes("\ufeffID\tTitle\tPrice\nT1\t台灯\t88\n".encode())
    products, errors = _read(path)
    assert errors == [] and products["T1"].price == 88.0


def test_utf16_tab_separated_export_with_upper_case_extension(tmp_path: Path) -> None:
    path = tmp_path / "EXPORT.CSV"  # Excel's "Unicode Text": UTF-16 with BOM, tab-separated
    path.write_bytes("id\ttitle\tattr:颜色\r\nU1\t保温杯\t银色\r\n".encode("utf-16"))
    products, errors = _read(path)
    assert errors == [] and products["U1"].attributes == {"颜色": "银色"}


def test_csv_unclosed_quote_is_reported_and_earlier_rows_kept(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('id,title,description\nQ1,好,ok\nQ2,坏,"never closed\nQ3,x,y\n', encoding="utf-8")
    items = list(read_catalog(path))
    assert isinstance(items[0], Product)
    assert isinstance(items[1], RowError) and items[1].line == 3 and "never closed" in items[1].reason


def test_csv_without_id_or_title_column_is_a_format_error(tmp_path: Path) -> None:
    path = tmp_path / "cols.csv"
    path.write_text("sku,name,price\n1,a,2\n", encoding="utf-8")
    with pytest.raises(CatalogFormatError, match=r"cols\.csv.*id, title.*found: sku, name, price"):
        read_catalog(path)


@pytest.mark.parametrize(("text", "match"), [("", "empty CSV"), ("id,title,Title\n", "appear twice")])
def test_csv_header_problems(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "h.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogFormatError, match=match):
        read_catalog(path)


def test_default_currency_fills_rows_that_state_none(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("id,title,price,currency\nC1,a,1,\nC2,b,2,EUR\n", encoding="utf-8")
    products, _ = _read(path, default_currency="usd")
    assert products["C1"].currency == "USD" and products["C2"].currency == "EUR"
    with pytest.raises(ValueError, match="3-letter"):
        read_catalog(path, default_currency="dollars")


# --- Shopify ----------------------------------------------------------------------------------------

def test_shopify_variants_collapse_into_one_product() -> None:
    path = FIXTURES / "shopify_products.csv"
    assert detect_format(path) == "shopify"
    products, _ = _read(path)
    tee = products["classic-tee"]
    assert tee.title == "Classic Tee" and tee.brand == "Acme" and tee.category == "T-Shirts"
    assert tee.price == 18.5  # the lowest of 19.99 / 21.00 / 18.50
    assert tee.stock == 10  # 5 + 3 + 2
    assert tee.attributes == {"Color": "Red/Blue", "Size": "S/M/L"}  # each option once, under the shop's name
    assert tee.variants == [  # every variant kept: options, price, stock, SKU (the image-only row is none)
        Variant(options={"Color": "Red", "Size": "S"}, price=19.99, stock=5, sku="TEE-R-S"),
        Variant(options={"Color": "Red", "Size": "M"}, price=21.0, stock=3, sku="TEE-R-M"),
        Variant(options={"Color": "Blue", "Size": "L"}, price=18.5, stock=2, sku="TEE-B-L")]
    assert tee.price_range() == (18.5, 21.0) and tee.variants[1].label() == "Red / M"
    assert tee.tags == ["cotton", "summer"]
    assert tee.images == [  # by Image Position, then variant images; distinct; URLs untouched
        "https://cdn.example.com/tee-front.jpg", "https://cdn.example.com/tee-side.jpg",
        "https://cdn.example.com/tee-back.jpg", "https://cdn.example.com/tee-detail.jpg",
        "https://cdn.example.com/tee-blue.jpg"]


def test_shopify_body_html_becomes_plain_text_without_script() -> None:
    products, _ = _read(FIXTURES / "shopify_products.csv")
    text = products["classic-tee"].description
    assert "<" not in text and "alert" not in text
    assert text == "Soft cotton tee & more.\n\n- Breathable\n- Machine washable\n\nFits true\nto size"
    assert products["silk-scarf"].description == "桑蚕丝，手工卷边。\n两种颜色可选。"  # plain text kept


def test_shopify_draft_unpublished_category_leaf_untracked_stock_and_default_title() -> None:
    reader = CatalogReader(FIXTURES / "shopify_products.csv", default_currency="USD")
    items = list(reader)
    products = {i[1].id: i[1] for i in items if not isinstance(i, RowError)}
    errors = [i for i in items if isinstance(i, RowError)]
    scarf = products["silk-scarf"]
    assert scarf.tags == ["丝绸", "礼物", "unpublished"]  # not on the online store: flagged, not dropped
    assert scarf.category == "Scarves & Shawls"  # no Type: last segment of Product Category
    assert scarf.stock is None  # inventory not tracked: the 0s say nothing
    assert scarf.attributes == {"颜色": "红色/蓝色"} and scarf.price == 199.0 and scarf.price_range() == (199, 219)
    assert products["gift-card"].attributes == {} and products["gift-card"].variants == []  # "Default Title"
    # draft and archived products are not for sale: left out and counted (the draft's bad price is no error)
    assert "old-hat" not in products and "new-bag" not in products
    assert reader.notes.not_for_sale == {"archived": ["old-hat"], "draft": ["new-bag"]}
    assert reader.notes.records == 7 and reader.notes.currency_defaulted == 3  # 3 products, 2 errors, 2 left out
    assert {p.currency for p in products.values()} == {"USD"}
    by_line = {e.line: e for e in errors}
    assert sorted(by_line) == [11, 12]  # line 2-3 and 7-8 hold multi-line bodies
    assert by_line[11].product_id == "no-title-product" and "no Title" in by_line[11].reason
    assert "price" in by_line[12].reason and by_line[12].product_id == "gold-plated-yacht"


CURRENT = ["Title", "URL handle", "Description", "Vendor", "Product category", "Type", "Tags",
           "Published on online store", "Status", "SKU", "Option1 name", "Option1 value", "Option2 name",
           "Option2 value", "Price", "Inventory tracker", "Inventory quantity", "Product image URL",
           "Image position", "Variant image URL"]


def test_shopify_current_column_names(tmp_path: Path) -> None:
    path = tmp_path / "products_export_1.csv"
    path.write_text(_csv_text([
        CURRENT,
        ["Wool Coat", "wool-coat", "<p>Warm &lt;wool&gt;</p>", "北境", "Apparel > Coats", "", "冬季, 外套",
         "FALSE", "active", "C-1", "Colour", "Camel", "Size", "M", "899", "shopify", "4",
         "https://img.example/c1.jpg", "2", ""],
        ["", "wool-coat", "", "", "", "", "", "", "", "C-2", "", "Black", "", "L", "859", "shopify", "-2",
         "https://img.example/c0.jpg", "1", "https://img.example/black.jpg"],
    ]), encoding="utf-8")
    assert detect_format(path) == "shopify"
    products, errors = _read(path, default_currency="USD")
    coat = products["wool-coat"]
    assert errors == []
    assert coat.description == "Warm <wool>" and coat.category == "Coats" and coat.currency == "USD"
    assert coat.price == 859.0 and coat.stock == 4  # an oversold (negative) variant adds nothing
    assert coat.attributes == {"Colour": "Camel/Black", "Size": "M/L"}
    assert [(v.label(), v.price, v.stock, v.sku) for v in coat.variants] == [
        ("Camel / M", 899.0, 4, "C-1"), ("Black / L", 859.0, 0, "C-2")]
    assert coat.images == ["https://img.example/c0.jpg", "https://img.example/c1.jpg",
                           "https://img.example/black.jpg"]
    assert coat.tags == ["冬季", "外套", "unpublished"]


LEGACY = ["Handle", "Title", "Body (HTML)", "Option1 Name", "Option1 Value", "Variant Price",
          "Variant Inventory Qty", "Image Src"]


def test_shopify_non_consecutive_handle_is_reported_not_merged(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(_csv_text([
        LEGACY,
        ["mug", "Mug", "", "Size", "S", "10", "1", ""],
        ["", "", "", "", "L", "12", "2", ""],  # blank Handle, no Title: continues the mug
        ["bowl", "Bowl", "", "", "", "8", "", ""],
        ["mug", "", "", "", "XL", "14", "3", ""],
        ["", "Plate", "", "", "", "5", "", ""],
    ]), encoding="utf-8")
    items = list(read_catalog(path))
    mug = items[0]
    assert isinstance(mug, Product) and mug.attributes == {"Size": "S/L"} and mug.stock == 3
    assert isinstance(items[1], Product) and items[1].id == "bowl"
    err = items[2]
    assert isinstance(err, RowError) and err.line == 5
    assert err.reason.startswith("duplicate id mug (first seen on line 2)")
    assert isinstance(items[3], RowError) and items[3].line == 6 and "no Handle" in items[3].reason


def test_shopify_bad_variant_price_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(_csv_text([LEGACY, ["lamp", "Lamp", "", "", "", "12", "", ""],
                               ["lamp", "", "", "", "", "twelve", "", ""]]), encoding="utf-8")
    [err] = list(read_catalog(path))
    assert isinstance(err, RowError) and err.line == 2 and "Variant Price 'twelve' on line 3" in err.reason


@pytest.mark.parametrize(("header", "expected"), [
    (["Handle", "Title", "Body (HTML)"], True),
    (["URL handle", "Title", "Price"], True),
    (["ID", "Handle", "Title", "Variant Price"], True),
    (["id", "handle", "title"], False),  # our CSV that happens to carry a handle column
    (["id", "title"], False),
])
def test_shopify_header_detection(header: list[str], expected: bool) -> None:
    assert is_shopify_header(header) is expected


# --- HTML -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("html", "text"), [
    ("<p>一</p><p>二</p>", "一\n\n二"),
    ("a<br>b<br/><br/>c", "a\nb\n\nc"),
    ("<div>x</div><div>y</div>", "x\ny"),
    ("<ul><li>A</li><li>B</li></ul>", "- A\n- B"),
    ("<table><tr><td>重量</td><td>200g</td></tr><tr><td>产地</td><td>杭州</td></tr></table>",
     "重量 200g\n产地 杭州"),
    ("<style>p {color: red}</style>Tom &amp; Jerry&nbsp;&#x4E2D;", "Tom & Jerry 中"),
    ('<p>ok <script>var s = "<p>evil</p>";', "ok"),  # an unclosed script never leaks
    ("plain\ntext &lt;3", "plain\ntext <3"),
    ("", ""),
])
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_json_lines_numbers_lines_skips_blanks_and_names_bad_json(tmp_path):
    from daogou.ingest.readers import json_lines

    p = tmp_path / "x.jsonl"
    p.write_text('\ufeff{"a": 1}\n\n[2]\n{oops\n', encoding="utf-8")
    rows = list(json_lines(p))
    assert rows[:2] == [(1, {"a": 1}, ""), (3, [2], "")]
    assert rows[2][0] == 4 and rows[2][1] is None and rows[2][2].startswith("invalid JSON:")


def test_query_file_errors_name_the_line(tmp_path):
    import pytest

    from daogou.evals.retrieval import load_queries

    p = tmp_path / "q.jsonl"
    p.write_text('{"query": "红裙", "relevant_ids": ["P1"]}\n\n{not json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"q.jsonl:3: .*invalid JSON"):
        load_queries(p)
    p.write_text('{"query": "红裙", "relevant_ids": ["P1"]}\n', encoding="utf-8")
    assert load_queries(p) == [{"query": "红裙", "relevant_ids": ["P1"]}]
