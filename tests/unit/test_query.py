import pytest

from daogou.ingest.vocab import colors_in_text, normalize_color
from daogou.tools.query import Vocabulary, cn_number, parse_price, parse_query

VOCAB = Vocabulary(categories=frozenset(["服装", "鞋靴", "数码", "食品", "图书", "运动"]),
                   brands=frozenset(["云裳 Yunshang", "Nike", "小米 Xiaomi"]))


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("红色连衣裙 300元以内", None, 300),
        ("red dress under 300", None, 300),
        ("100到200元的鞋子", 100, 200),
        ("between 100 and 200 yuan", 100, 200),
        ("三百块以内的零食", None, 300),
        ("预算2k的耳机", None, 2000),
        ("500元以上", 500, None),
        ("1.5k-3k phone", 1500, 3000),
        ("不超过¥99", None, 99),
        ("at least 800 rmb", 800, None),
        ("iPhone 15 手机壳", None, None),
        ("A4纸 500张", None, None),
    ],
)
def test_prices(text, low, high):
    got_low, got_high, _ = parse_price(text)
    assert (got_low, got_high) == (low, high)


def test_chinese_numerals():
    assert cn_number("三百") == 300 and cn_number("两千五百") == 2500 and cn_number("1万") == 10000
    assert cn_number("abc") is None


def test_parse_query_extracts_filters_and_keeps_words():
    p = parse_query("红色连衣裙 300元以内", VOCAB)
    assert p.text == "红色连衣裙"
    assert p.filters.price_max == 300 and p.filters.colors == ("红色",)


def test_brand_negation_and_sizes():
    p = parse_query("不要Nike的运动鞋 42码", VOCAB)
    assert p.filters.exclude_brands == ("Nike",) and p.filters.brands == ()
    assert "42" in p.filters.sizes
    assert p.filters.categories == ("鞋靴",)  # the head noun of 运动鞋


def test_brand_by_either_name():
    assert parse_query("xiaomi 手机", VOCAB).filters.brands == ("小米 Xiaomi",)
    assert parse_query("小米的充电宝", VOCAB).filters.brands == ("小米 Xiaomi",)


def test_only_catalog_categories_become_filters():
    assert parse_query("给猫买的宠物用品", VOCAB).filters.categories == ()  # 宠物 not in this catalog


def test_book_bag_is_not_books():
    assert parse_query("书包", VOCAB).filters.categories == ()


def test_in_stock_and_size_letters():
    f = parse_query("M码 白色T恤 有货", VOCAB).filters
    assert f.sizes == ("M",) and f.in_stock and f.colors == ("白色",)


def test_colour_words():
    assert colors_in_text("酒红色和米白的") == ["红色", "米色"]
    assert colors_in_text("网红同款 bored") == []
    assert colors_in_text("蓝牙耳机") == [] and colors_in_text("白色蓝牙耳机") == ["白色"]  # 蓝牙 is Bluetooth
    assert normalize_color("Navy") == "蓝色" and normalize_color("未知") is None
    assert colors_in_text("雕牌洗衣粉还有货吗") == [] and colors_in_text("婴儿奶粉") == []  # powders, not pink
    assert colors_in_text("粉色洗衣粉") == ["粉色"]


def test_waterproof_and_english_sizes_and_n_max():
    f = parse_query("I need a waterproof backpack, 500 max, I'm a medium", VOCAB).filters
    assert f.waterproof and f.price_max == 500 and f.sizes == ("M",)
    assert not parse_query("这件不防水也行", VOCAB).filters.waterproof
    assert parse_query("nothing over 500", VOCAB).filters.price_max == 500
