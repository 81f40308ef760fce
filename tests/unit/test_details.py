"""product_details, compare_products and answer_about_product: catalog facts only, never a guess."""

import pytest

from daogou.tools.details import MISSING, answer_about_product, compare_products, product_details
from daogou.tools.errors import ToolError
from daogou.tools.facts import product_facts
from tests.fakes.catalog import load_catalog

ROWS = [
    {"id": "J1", "title": "绿色冲锋衣 / Green rain jacket", "price": 499, "category": "运动", "brand": "劲动",
     "description": "三层压胶面料，轻便透气。适合徒步和露营。 Light and breathable for hiking.",
     "attributes": {"颜色": "绿色/黑色", "尺码": "S/M/L", "面料": "尼龙", "防水": "是"}, "tags": ["户外", "新品"],
     "stock": 8, "url": "https://shop.example/p/J1"},
    {"id": "J2", "title": "黑色羊毛大衣", "price": 899, "category": "服装", "brand": "北屿",
     "description": "双面呢工艺，版型挺括。", "attributes": {"颜色": "黑色", "尺码": "M/L/XL", "材质": "羊毛"},
     "stock": 0},
    {"id": "T1", "title": "绿色帐篷", "price": 588, "category": "运动",
     "description": "自动速开，搭建只需一分钟。具备防水功能，雨天也能放心使用。 Waterproof, so rain is no worry.",
     "attributes": {"颜色": "绿色", "材质": "尼龙"}},
    {"id": "C1", "title": "白色保温杯", "price": 89, "currency": "CNY", "brand": "暖居",
     "attributes": {"颜色": "白色", "容量": "500ml", "material": "304不锈钢"}, "stock": 30},
]


@pytest.fixture
def index(fake_store, settings, tmp_path):
    return load_catalog(fake_store, settings, tmp_path, [dict(r) for r in ROWS])


# -- product_details ------------------------------------------------------------------------------------
def test_details_lists_every_field_and_attribute(index):
    res = product_details(index, ["J1"])
    facts = dict(res.facts["J1"])
    assert facts["编号"] == "J1" and facts["名称"].startswith("绿色冲锋衣")
    assert facts["价格"] == "499元" and facts["库存"] == "有货（8件）" and facts["品牌"] == "劲动"
    assert facts["面料"] == "尼龙" and facts["防水"] == "是" and facts["尺码"] == "S/M/L"
    assert facts["标签"] == "户外、新品" and facts["链接"].endswith("/J1") and "压胶" in facts["描述"]
    assert [c.id for c in res.cards] == ["J1"] and res.unknown == []


def test_details_in_english_and_absent_fields_left_out(index):
    facts = dict(product_details(index, ["T1"], lang="en").facts["T1"])
    assert facts["price"] == "¥588"
    assert "stock" not in facts and "brand" not in facts  # the catalog does not say: not invented


def test_details_reports_unknown_ids_and_refuses_when_none_known(index):
    res = product_details(index, ["J1", "NOPE", "j2"])
    assert [c.id for c in res.cards] == ["J1", "J2"] and res.unknown == ["NOPE"]
    assert "not in the catalog: NOPE" in res.trace
    with pytest.raises(ToolError, match=r"Unknown product ids 'X1', 'X2'\. Use an id from the products shown"):
        product_details(index, ["X1", "X2"])
    with pytest.raises(ToolError, match="product_ids is empty"):
        product_details(index, [])
    with pytest.raises(ToolError, match=r"Unknown language 'fr'\. Valid values: zh, en"):
        product_details(index, ["J1"], lang="fr")


def test_product_facts_can_select_fields(index):
    p = index.store.get_products(["C1"])[0]
    assert product_facts(p, "zh", fields=("price",), attributes=False) == [("价格", "89元")]


# -- compare_products -------------------------------------------------------------------------------------
def test_compare_rows_with_missing_values_and_cheapest(index):
    res = compare_products(index, ["J1", "J2", "T1"])
    rows = dict(res.rows)
    assert [label for label, _ in res.rows[:4]] == ["价格", "品牌", "类目", "库存"]
    assert rows["价格"] == ["499元", "899元", "588元"]
    assert rows["品牌"] == ["劲动", "北屿", MISSING]
    assert rows["库存"] == ["有货（8件）", "缺货", MISSING]
    assert rows["防水"] == ["是", MISSING, MISSING]
    assert rows["面料"] == ["尼龙", "羊毛", "尼龙"]  # 面料 and 材质 are the same row
    assert "材质" not in rows
    assert res.cheapest == "J1"
    assert "价格" in res.differing and "cheapest J1" in res.trace


def test_compare_merges_english_keys_and_needs_two_known(index):
    res = compare_products(index, ["C1", "J2", "ZZZ"], lang="en")
    rows = dict(res.rows)
    assert rows["material"] == ["304不锈钢", "羊毛"] and rows["容量"] == ["500ml", MISSING]
    assert res.unknown == ["ZZZ"] and res.cheapest == "C1"
    with pytest.raises(ToolError, match=r"Need at least 2 known products to compare \(known: \['J1'\]\)\. "
                                        r"Unknown product id 'P9'"):
        compare_products(index, ["J1", "P9"])
    with pytest.raises(ToolError, match="at least 2 different products"):
        compare_products(index, ["J1", "j1"])
    with pytest.raises(ToolError, match="compare at most 5"):
        compare_products(index, ["J1", "J2", "T1", "C1", "A", "B"])


# -- answer_about_product -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("pid", "question", "field", "value", "source", "verdict"), [
    ("J1", "这件防水吗?", "防水", "是", "attributes", True),
    ("J1", "is it waterproof?", "防水", "是", "attributes", True),
    ("J1", "what material is it?", "面料", "尼龙", "attributes", None),
    ("J2", "是什么面料的", "材质", "羊毛", "attributes", None),
    ("J1", "有M码吗", "尺码", "S/M/L", "attributes", True),
    ("J2", "有S码吗", "尺码", "M/L/XL", "attributes", False),
    ("J1", "Do you have it in L?", "尺码", "S/M/L", "attributes", True),
    ("J1", "有黑色的吗", "颜色", "绿色/黑色", "attributes", True),
    ("J2", "有红色吗", "颜色", "黑色", "attributes", False),
    ("J1", "多少钱", "价格", "499元", "price", None),
    ("J1", "有货吗", "库存", "有货（8件）", "stock", True),
    ("J2", "还有货吗", "库存", "缺货", "stock", False),
    ("C1", "容量多大", "容量", "500ml", "attributes", None),
    ("C1", "什么品牌", "品牌", "暖居", "brand", None),
])
def test_answers_from_attributes_and_fields(index, pid, question, field, value, source, verdict):
    res = answer_about_product(index, pid, question)
    assert res.found and res.facts[0].field == field and res.facts[0].value == value
    assert res.facts[0].source == source and res.verdict is verdict
    assert res.card.id == pid and question.strip() in res.trace


def test_yes_no_note_states_the_value(index):
    assert answer_about_product(index, "J1", "有M码吗").note == "有M码（尺码：S/M/L）"
    assert answer_about_product(index, "J2", "有S码吗").note == "没有S码（尺码：M/L/XL）"
    assert answer_about_product(index, "J1", "do you have XXL?", lang="en").note == \
        "XXL is not offered (尺码: S/M/L)"


def test_description_sentences_answer_when_no_attribute_does(index):
    res = answer_about_product(index, "T1", "这个防水吗")
    assert res.found and res.verdict is None
    assert res.facts[0].source == "description" and "防水" in res.facts[0].value
    no_topic = answer_about_product(index, "J2", "是什么工艺")  # no known topic: shared words are enough
    assert no_topic.facts[0].value == "双面呢工艺，版型挺括。"
    en = answer_about_product(index, "T1", "is it waterproof?")
    assert any("防水" in f.value or "Waterproof" in f.value for f in en.facts)


@pytest.mark.parametrize(("pid", "question", "topic"), [
    ("J2", "这件防水吗?", "waterproof"),
    ("J1", "产地是哪里?", "origin"),
    ("T1", "有货吗", "stock"),  # stock not given in the catalog
    ("C1", "有M码吗", "size"),
    ("J2", "保修多久", "warranty"),
    ("J2", "这件大衣工艺防水吗", "waterproof"),  # shares 工艺 with the description, but it says nothing of water
])
def test_catalog_does_not_say(index, pid, question, topic):
    res = answer_about_product(index, pid, question)
    assert not res.found and res.facts == [] and res.verdict is None
    assert "the catalog does not say" in res.trace and topic in res.trace
    assert "不要猜测" in res.note


def test_not_said_note_names_the_topic_in_the_shoppers_language(index):
    assert answer_about_product(index, "J2", "防水吗").note == "商品资料里没有写防水，不要猜测，请如实告诉顾客。"
    assert answer_about_product(index, "J2", "is it waterproof?", lang="en").note.startswith(
        "The catalog does not say (waterproof); do not guess")
    assert not answer_about_product(index, "T1", "帐篷重吗").found  # 帐篷 names the product; 重 asks the weight


CUPS = [
    {"id": "cup-a", "title": "富光316不锈钢保温杯大容量", "price": 26.9,
     "attributes": {"材质": "316不锈钢", "适用人群": "儿童/学生"}},
    {"id": "cup-b", "title": "富光学生塑料太空杯", "price": 49,
     "attributes": {"材质": "塑料", "适用人群": "女士/学生"}},
    {"id": "cup-c", "title": "不锈钢焖烧杯", "price": 59},  # no attributes: only its title says it
    {"id": "mug-1", "title": "Enamel camping mug", "price": 12, "currency": "USD",
     "attributes": {"material": "stainless steel", "type": "mug"}},
    {"id": "mug-2", "title": "Ceramic coffee mug", "price": 9, "currency": "USD",
     "attributes": {"material": "ceramic", "type": "mug"}},
]


@pytest.fixture
def cups(fake_store, settings, tmp_path):
    return load_catalog(fake_store, settings, tmp_path, [dict(r) for r in CUPS])


@pytest.mark.parametrize(("pid", "question", "lang", "verdict", "value"), [
    ("cup-a", "哪个是不锈钢的？", "zh", True, "材质：316不锈钢"),
    ("cup-b", "哪个是不锈钢的？", "zh", False, "材质：塑料"),  # its 材质 is known, so the answer is no, not "not said"
    ("cup-c", "这个是不锈钢的吗", "zh", True, "标题写明不锈钢"),
    ("cup-b", "是塑料的吗", "zh", True, "材质：塑料"),
    ("cup-a", "适合学生吗", "zh", True, "适用人群：儿童/学生"),
    ("mug-1", "Which one is stainless steel?", "en", True, "material: stainless steel"),
    ("mug-2", "is it stainless steel?", "en", False, "material: ceramic"),
    ("mug-2", "Is this mug ceramic?", "en", True, "material: ceramic"),  # 'mug' (a kind) is not what it asks
])
def test_is_it_value_questions_read_the_key_that_holds_the_value(cups, pid, question, lang, verdict, value):
    res = answer_about_product(cups, pid, question, lang=lang)
    assert res.found and res.verdict is verdict and res.note == value


def test_a_value_no_product_holds_is_not_said(cups):
    res = answer_about_product(cups, "cup-b", "哪个是玻璃的？")
    assert not res.found and res.verdict is None
    assert not answer_about_product(cups, "mug-2", "is it dishwasher safe?", lang="en").found


def test_answer_bad_arguments_are_tool_errors(index):
    with pytest.raises(ToolError, match="Unknown product id 'P9999'"):
        answer_about_product(index, "P9999", "多少钱")
    with pytest.raises(ToolError, match="question is empty"):
        answer_about_product(index, "J1", "  ")


def test_price_text_speaks_each_currency() -> None:
    from daogou.tools.facts import price_text

    assert price_text(73.49, "USD", "en") == "$73.49" and price_text(73.49, "USD", "zh") == "$73.49"
    assert price_text(199, "CNY", "zh") == "199元" and price_text(199, "CNY", "en") == "¥199"
    assert price_text(12.5, "CHF", "en") == "12.5 CHF" and price_text(12000, "EUR", "en") == "€12,000"
    assert price_text(None, "USD", "en") == ""
