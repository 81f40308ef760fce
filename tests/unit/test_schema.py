import math

import pytest

from daogou.ingest.schema import Product, RowError, validate_row


def test_minimal_row_gets_defaults():
    p = Product.model_validate({"id": "P1", "title": "红色连衣裙"})
    assert p.currency == "CNY" and p.price is None and p.attributes == {} and p.tags == [] and p.stock is None


def test_numeric_id_and_string_price_are_coerced():
    p = Product.model_validate({"id": 17, "title": "x", "price": "¥1,299.00", "stock": "3"})
    assert p.id == "17" and p.price == 1299.0 and p.stock == 3


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ({"title": "no id"}, "id"),
        ({"id": "", "title": "x"}, "id"),
        ({"id": "P1"}, "title"),
        ({"id": "P1", "title": "   "}, "title"),
        ({"id": "P1", "title": "x", "price": -1}, "negative"),
        ({"id": "P1", "title": "x", "price": 1e12}, "absurd"),
        ({"id": "P1", "title": "x", "price": math.nan}, "finite"),
        ({"id": "P1", "title": "x", "price": "cheap"}, "not a number"),
        ({"id": "P1", "title": "x", "price": True}, "number"),
        ({"id": "P1", "title": "x", "stock": -3}, "negative"),
        ({"id": "P1", "title": "x", "stock": 2.5}, "whole"),
        ({"id": "P1", "title": "x", "currency": "dollars"}, "ISO"),
        ({"id": "P1", "title": "x", "attributes": ["red"]}, "attributes"),
        ({"id": "P1", "title": "x", "attributes": {"颜色": {"a": 1}}}, "颜色"),
    ],
)
def test_bad_rows_become_row_errors_naming_the_problem(row, fragment):
    out = validate_row(row, "cat.jsonl", 7)
    assert isinstance(out, RowError)
    assert out.line == 7 and out.source == "cat.jsonl"
    assert fragment in out.reason
    assert str(out).startswith("cat.jsonl:7:")


def test_tags_and_images_split_from_text_and_attributes_stringified():
    p = Product.model_validate({"id": "P1", "title": "x", "tags": "夏季|dress, 新款", "images": "a.png",
                                "attributes": {"容量": 128, "颜色": "红色", "空": None}})
    assert p.tags == ["夏季", "dress", "新款"] and p.images == ["a.png"]
    assert p.attributes == {"容量": "128", "颜色": "红色"}


def test_currency_aliases():
    assert Product.model_validate({"id": "1", "title": "x", "currency": "rmb"}).currency == "CNY"
    assert Product.model_validate({"id": "1", "title": "x", "currency": "usd"}).currency == "USD"
