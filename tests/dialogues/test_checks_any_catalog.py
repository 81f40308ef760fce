"""The dialogue checks on catalogs that are not the demo: ids of any shape, attribute keys in any language, prices in
each product's own currency, and the reply checks every turn gets (no leaked instructions, no broken characters, no
echo of a long message)."""

from __future__ import annotations

import pytest

from daogou.evals.dialogue_checks import CatalogFacts, attribute, product_violations
from daogou.evals.dialogue_run import check_turn, literal_ids
from daogou.evals.dialogues import Expect, Turn
from daogou.evals.reply_checks import (
    check_clean_text,
    check_currency,
    check_echo,
    check_grounding,
    check_leaks,
    detect_language,
)

SHOP = [  # an English retail shop: SKU ids, USD, English attribute keys
    {"id": "SKU-1092", "title": "ChefNova 8-inch chef knife", "category": "Kitchen", "brand": "ChefNova",
     "price": 73.49, "currency": "USD", "attributes": {"Colour": "Black", "Size": "8 in", "material": "steel"},
     "tags": ["knife"], "stock": 12},
    {"id": "SKU-1010", "title": "BrewMax drip coffee maker", "category": "Kitchen", "brand": "BrewMax",
     "price": 89.0, "currency": "USD", "attributes": {"color": "Silver", "capacity": "12 cups"},
     "tags": ["coffee maker"], "stock": 0},
]
JD = [  # a Chinese appliance shop: 12-digit ids, CNY, long texts
    {"id": "100042754736", "title": "美的电热水器60升", "category": "热水器", "brand": "美的", "price": 1899.0,
     "currency": "CNY", "attributes": {"容量": "60升", "颜色": "白色"}, "description": "基础安装费150元，整机包修8年。",
     "tags": ["热水器"]},
    {"id": "100042754740", "title": "海尔电热水器50升", "category": "热水器", "brand": "海尔", "price": 1299.0,
     "currency": "CNY", "attributes": {"容量": "50升"}, "tags": ["热水器"]},
]


@pytest.fixture(scope="module")
def shop() -> CatalogFacts:
    return CatalogFacts.from_rows(SHOP)


@pytest.fixture(scope="module")
def jd() -> CatalogFacts:
    return CatalogFacts.from_rows(JD)


def _out(text, products=(), calls=()):
    return {"text": text, "products": list(products), "tool_calls": list(calls), "timings_ms": {}}


def _check(facts, out, expect, *, language="en", history=(), users=("hi",)):
    failures, *_ = check_turn(out, Expect.model_validate(expect), language, list(history), list(users), facts)
    return failures


# ------------------------------------------------------------------------------------------------ ids
def test_ids_of_any_shape_are_found_by_the_catalogs_own_shapes(shop, jd):
    assert shop.ids_in_text("Try SKU-1092 or sku-9999, not SKU-12 or ASKU-1092.") == ["SKU-1092", "sku-9999"]
    assert jd.ids_in_text("比较一下100042754736和100042754740") == ["100042754736", "100042754740"]
    assert shop.catalog_id("sku-1092") == "SKU-1092" and jd.catalog_id(100042754736) == "100042754736"
    short = CatalogFacts.from_rows([{"id": "1024", "title": "x"}])
    assert short.id_pattern is None  # a bare 4-digit id shape would catch every price


def test_invented_and_unshown_ids_fail_grounding_whatever_their_shape(shop, jd):
    shown = [SHOP[0]]
    assert check_grounding("SKU-1092 is $73.49.", shown, ["knives?"], shop) == []
    reasons = check_grounding("Also SKU-1010 and SKU-4242.", shown, ["knives?"], shop)
    assert any("SKU-1010 is mentioned but was never shown" in r for r in reasons)
    assert any("SKU-4242 is mentioned but is not in the catalog" in r for r in reasons)
    assert check_grounding("Also SKU-1010.", shown, ["and SKU-1010?"], shop) == []  # the shopper typed it
    # a 12-digit id is an id, not a price-like number
    assert check_grounding("100042754736 售价1899元。", [JD[0]], ["热水器"], jd) == []


def test_literal_ids_are_read_from_id_fields_whatever_their_shape():
    turn = Turn.model_validate({"user": "compare", "image": "SKU-1010", "expect": {
        "args": {"product_ids": ["SKU-1092", "@prev.1"], "query": "SKU-7777 lookalike"},
        "products": {"include_ids": ["100042754736"], "ids_exclude": ["@prev.2"]}}})
    assert literal_ids(turn) == {"SKU-1010", "SKU-1092", "100042754736"}


def test_tool_calls_on_ids_of_any_shape_make_their_facts_quotable(jd):
    call = {"name": "answer_about_product", "args": {"product_id": 100042754736, "question": "安装费"}}
    out = _out("基础安装费150元，售价1899元。", calls=[call])
    assert _check(jd, out, {"args": {"product_id": "100042754736"}}, language="zh", users=["安装费多少"]) == []


# ------------------------------------------------------------------------------------------------ attributes
def test_attribute_keys_in_any_language_and_case():
    assert attribute({"Colour": "Black"}, "color") == "Black"
    assert attribute({"颜色": "红色"}, "color") == "红色"
    assert attribute({"SIZE": "M/L"}, "size") == "M/L"
    assert attribute({"Material": "steel"}, "material") == "steel"
    assert attribute({"材质": "棉"}, "color") is None
    assert product_violations(SHOP[0], {"color": "black", "size": "8 IN", "attributes": {"MATERIAL": "steel"}}) == []
    assert product_violations(SHOP[1], {"color": "黑色"}) == ["SKU-1010 colour 'Silver' is not 黑色"]


# ------------------------------------------------------------------------------------------------ currency
@pytest.mark.parametrize(("text", "ok"), [
    ("The knife is $73.49.", True), ("The knife is 73.49 USD.", True), ("The knife is US$73.49.", True),
    ("The knife is 73.49 dollars.", True), ("It's about $73.", True), ("这把刀73.49美元。", True),
    ("The knife is 73.49 CNY.", False), ("这把刀73.49元。", False), ("这把刀¥73.49。", False),
    ("The knife is 73.49 yuan.", False), ("The knife costs 73.49.", True),  # no mark: grounding's business
])
def test_a_price_is_spoken_in_its_products_currency(shop, text, ok):
    reasons = check_currency(text, [SHOP[0]], shop)
    assert (reasons == []) is ok, reasons
    if not ok:
        assert "SKU-1092 costs 73.49 USD" in reasons[0]


def test_cny_prices_and_budgets_are_left_alone(jd):
    assert check_currency("海尔的1299元，美的¥1899，比你的2000元预算便宜。", JD, jd) == []
    assert check_currency("The Haier one is $1299.", JD, jd)[0].startswith("price $1299 is spoken as")


def test_currency_is_checked_by_default_and_can_be_switched_off(shop):
    out = _out("The ChefNova knife is 73.49 CNY.", [SHOP[0]])
    assert [f.check for f in _check(shop, out, {})] == ["currency"]
    assert _check(shop, out, {"currency_ok": False}) == []


def test_dollar_prices_are_grounded_like_any_other(shop):
    assert check_grounding("Under your $100 budget: the knife at $73.49.", [SHOP[0]], ["knives under $100"],
                           shop) == []
    assert "price 59.99" in check_grounding("Now only $59.99!", [SHOP[0]], ["knives"], shop)[0]
    assert check_grounding("Anything ≤73.48?", [SHOP[0]], ["cheaper?"], shop) == []  # a "cheaper than" bound


def test_a_bare_number_from_a_shown_products_description_is_grounded(jd):
    heater = JD[0]  # description: 基础安装费150元，整机包修8年
    assert check_grounding("这台包修 8 年，安装费150元。", [heater], ["保修呢"], jd) == []
    assert "price-like number 2400" in check_grounding("功率2400，很快。", [heater], ["功率呢"], jd)[0]


# ------------------------------------------------------------------------------------------------ leaks, breaks, echo
@pytest.mark.parametrize("text", [
    "Recommend the ChefNova 8-inch chef knife to the shopper.",
    "The shopper should consider the BrewMax.",
    "The shopper said: cheaper ones? The nearest after relaxing some. Say so honestly. Conditions: ≤100. "
    "Product data (data only): …",
    "I'd recommend this one to the user.",
    "<tool_call>{\"name\": \"search_catalog\"}</tool_call>",
    "推荐给用户：这把刀。",
    "推荐最符合顾客需求的那件，屏幕是6.1英寸。",
    "用一到三句话回答顾客：这款煮茶壶保温效果好。",
    "购物者想要一把刀。",
])
def test_instruction_leaks_fail(text):
    assert check_leaks(text), text


@pytest.mark.parametrize("text", [
    "The ChefNova knife is $73.49 and in stock.", "Check the user manual for the warranty.",
    "这把刀很锋利，适合日常切菜。", "Customers love this coffee maker.", "Care instructions: hand wash only.",
])
def test_ordinary_replies_do_not_leak(text):
    assert check_leaks(text) == []


def test_broken_characters_fail():
    assert check_clean_text("材质: \ufffd") and check_clean_text("ok\x07")
    assert check_clean_text("材质：不锈钢\n颜色：黑色") == []


def test_a_long_message_must_not_be_echoed(shop):
    essay = "I am writing to tell you about my kitchen, which is small but bright, " * 8
    assert check_echo("Here is a knife for a small kitchen.", [essay], [SHOP[0]]) == []
    assert check_echo(f"You said: {essay[:120]}", [essay], [SHOP[0]])
    out = _out(f"You wrote: {essay[:200]} — try the knife.", [SHOP[0]])
    assert "echo" in {f.check for f in _check(shop, out, {}, users=[essay])}
    title = SHOP[0]["title"] + " " + "padding words to make the message long enough to count " * 4
    assert check_echo(f"{SHOP[0]['title']} is a good pick.", [title], [SHOP[0]]) == []  # quoting a pasted title


def test_leaks_and_text_not_matches_fail_the_turn(shop):
    out = _out("The shopper wants a knife: SKU-1092 at $73.49.", [SHOP[0]])
    assert [f.check for f in _check(shop, out, {})] == ["leak"]
    assert _check(shop, out, {"no_leak": False}) == []
    failures = _check(shop, _out("It costs $73.49."), {"text_not_matches": ["\\$\\d+\\.\\d\\d"], "grounded": False})
    assert failures[0].check == "text" and "$73.49" in failures[0].reason


# ------------------------------------------------------------------------------------------------ language
def test_an_english_reply_may_quote_part_of_a_long_chinese_title():
    rows = [{"id": "D0576", "title": "美的MG/MD100A5 10公斤变频滚筒洗衣机洗烘一体祛味空气洗优惠品", "price": 309.0}]
    facts = CatalogFacts.from_rows(rows)
    assert detect_language("Yes: the 变频滚筒洗衣机洗烘一体 (D0576) dries clothes too, for 309 CNY.", facts)[0] == "en"
    assert detect_language("是的，这台洗衣机可以烘干衣服，售价309元。", facts)[0] == "zh"


def test_a_title_piece_is_recognised_before_catalog_words_are_cut_out_of_it():
    title = "官方授权意大利Bialetti比乐蒂咖啡壶进口家用煮咖啡摩卡壶手冲泡"
    facts = CatalogFacts.from_rows([{"id": "D0317", "title": title, "price": 49.0,
                                     "tags": ["咖啡壶", "摩卡壶", "咖啡"]}])
    reply = f'Copy for "{title}":\nBialetti比乐蒂咖啡壶进口家用煮咖啡摩卡壶手冲泡\n- Affordable and easy to use'
    assert detect_language(reply, facts)[0] == "en"


def test_a_whole_title_quoted_in_an_english_reply_is_removed_before_its_pieces():
    title = "Beats Fit Pro无线Wireless降噪耳机蓝牙苹果安卓Earbuds入耳式"
    facts = CatalogFacts.from_rows([{"id": "D0036", "title": title, "category": "数码电子", "brand": "Beats",
                                     "price": 1998.0, "tags": ["耳机", "蓝牙"]}])
    reply = (f'Details of "{title}": category: 数码电子; brand: Beats; price: ¥1998; stock: out of stock; '
             f"tags: 耳机, 蓝牙; description: {title}.")
    assert detect_language(reply, facts)[0] == "en"


def test_an_empty_reply_is_named_as_such(shop):
    assert "got an empty reply" in _check(shop, _out("  "), {})[0].reason
