import pytest
from pydantic import ValidationError

from daogou.ingest.filters import Filters, content_hash, product_metadata
from daogou.ingest.schema import Product


def _p(**kw):
    base = {"id": "P1", "title": "t", "price": 199.0, "category": "服装", "brand": "云裳",
            "attributes": {"颜色": "酒红/Blue", "尺码": "s/m"}, "stock": 5}
    base.update(kw)
    return Product.model_validate(base)


def test_metadata_normalises_colours_and_sizes():
    meta = product_metadata(_p())
    assert meta["colors"] == ["红色", "蓝色"]
    assert meta["sizes"] == ["S", "M"]
    assert meta["in_stock"] is True and meta["price"] == 199.0


def test_metadata_without_price_or_colour_gives_none_so_chroma_stores_nothing_and_drops_stale_values():
    meta = product_metadata(_p(price=None, attributes={}, stock=0))
    assert meta["price"] is None and meta["colors"] is None and meta["sizes"] is None and meta["in_stock"] is False
    assert [] not in meta.values()  # Chroma refuses empty lists


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(price_max=200), True),
        (Filters(price_max=100), False),
        (Filters(price_min=200), False),
        (Filters(colors=("蓝色",)), True),
        (Filters(colors=("黑色",)), False),
        (Filters(categories=("服装", "鞋靴")), True),
        (Filters(brands=("别的",)), False),
        (Filters(exclude_brands=("云裳",)), False),
        (Filters(sizes=("M",)), True),
        (Filters(sizes=("XL",)), False),
        (Filters(exclude_ids=("P1",)), False),
        (Filters(in_stock=True), True),
    ],
)
def test_matches(filters, expected):
    assert filters.matches(product_metadata(_p())) is expected


def test_unknown_price_fails_a_price_filter():
    assert not Filters(price_max=1000).matches(product_metadata(_p(price=None)))


def test_where_clause_shape():
    assert Filters().to_where() is None
    assert Filters(price_max=300).to_where() == {"price": {"$lte": 300.0}}
    w = Filters(price_max=300, colors=("红色", "蓝色")).to_where()
    assert w == {"$and": [{"price": {"$lte": 300.0}},
                          {"$or": [{"colors": {"$contains": "红色"}}, {"colors": {"$contains": "蓝色"}}]}]}


def test_inverted_price_range_is_refused_with_the_fix():
    with pytest.raises(ValidationError, match="swap them"):
        Filters(price_min=500, price_max=100)


def test_content_hash_changes_with_content_only():
    assert content_hash(_p()) == content_hash(_p())
    assert content_hash(_p()) != content_hash(_p(price=200.0))


def test_waterproof_reads_the_attribute_value_not_the_key():
    assert product_metadata(_p(attributes={"防水": "是"}))["waterproof"] is True
    assert product_metadata(_p(attributes={"防水": "否"}))["waterproof"] is None
    assert not Filters(waterproof=True).matches(product_metadata(_p(attributes={"防水": "否"})))
    assert Filters(waterproof=True).to_where() == {"waterproof": {"$eq": True}}


def test_describe_speaks_the_shoppers_language():
    f = Filters(price_max=300, colors=("红色",), in_stock=True, exclude_brands=("Nike",))
    assert f.describe("zh") == "≤300，红色，不要Nike，有货"
    assert f.describe() == "≤300, 红色, not Nike, in stock"
