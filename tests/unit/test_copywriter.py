"""Copy prompts, lenient parsing and the grounding check, with a scripted `generate`."""

import pytest

from daogou.ingest.schema import Product
from daogou.tools.copywriter import STYLES, copy_prompt, parse_copy, ungrounded_terms, write_copy
from daogou.tools.errors import ToolError
from tests.fakes.catalog import load_catalog

TEE = {"id": "T1", "title": "白色纯棉T恤", "price": 129, "category": "服装", "brand": "云裳",
       "description": "精梳棉面料，柔软透气。", "attributes": {"颜色": "白色", "尺码": "M/L/XL", "材质": "纯棉"},
       "tags": ["夏季"], "stock": 20}
CUP = {"id": "C1", "title": "蓝色保温杯 500ml", "price": 89, "category": "厨具", "brand": "暖居",
       "attributes": {"颜色": "蓝色", "材质": "304不锈钢", "容量": "500ml"}, "stock": 3}


@pytest.fixture
def index(fake_store, settings, tmp_path):
    return load_catalog(fake_store, settings, tmp_path, [dict(TEE), dict(CUP)])


def scripted(text, seen=None):
    def generate(prompt: str) -> str:
        if seen is not None:
            seen.append(prompt)
        return text
    return generate


# -- the prompt ------------------------------------------------------------------------------------------
def test_prompt_holds_the_facts_style_and_format():
    p = copy_prompt(Product(**TEE), "活泼", "zh")
    for fact in ("名称：白色纯棉T恤", "价格：129元", "材质：纯棉", "尺码：M/L/XL", "品牌：云裳"):
        assert fact in p
    assert "活泼" in p and "标题：" in p and "卖点：" in p and "描述：" in p
    assert "库存" not in p and "T1" not in p  # stock and id are not copy material
    assert p.count("【示例】") == 1


def test_prompt_in_english_maps_the_style_name():
    p = copy_prompt(Product(**TEE), "促销", "en")
    assert "Write promotional product copy" in p and "price: ¥129" in p
    assert "Selling point:" in p and "never invent discounts" in p


def test_prompt_picks_the_example_of_the_style():
    p = copy_prompt(Product(**CUP), "促销", "zh")
    assert "89元入手" in p  # the promotional few-shot example
    assert "步履白色低帮帆布鞋" not in p


@pytest.mark.parametrize(("style", "language", "match"), [
    ("搞笑", "zh", r"Unknown style '搞笑'\. Valid values: 简洁, 活泼, 高端, 促销, concise, playful, premium"),
    ("简洁", "fr", r"Unknown language 'fr'\. Valid values: zh, en"),
])
def test_bad_style_or_language_lists_the_valid_ones(style, language, match):
    with pytest.raises(ToolError, match=match):
        copy_prompt(Product(**TEE), style, language)


def test_every_style_renders_in_both_languages():
    for zh, en in STYLES.items():
        assert copy_prompt(Product(**CUP), zh, "zh") and copy_prompt(Product(**CUP), en, "en")


# -- parsing ---------------------------------------------------------------------------------------------
def test_parse_the_asked_format():
    got = parse_copy("标题：清爽白T\n卖点：纯棉亲肤\n卖点：M到XL可选\n卖点：百搭\n描述：一件好穿的白T。")
    assert got.ok and got.title == "清爽白T" and got.selling_points == ["纯棉亲肤", "M到XL可选", "百搭"]
    assert got.description == "一件好穿的白T。"


def test_parse_is_lenient_about_markdown_numbering_and_language():
    text = ("**标题:** 「清爽白T」\n卖点1：纯棉亲肤\n2. 卖点: 透气\n- 卖点3：百搭\n描述：第一句。\n第二句。\n")
    got = parse_copy(text)
    assert got.title == "清爽白T" and got.selling_points == ["纯棉亲肤", "透气", "百搭"]
    assert got.description == "第一句。第二句。"
    en = parse_copy("Title: A fresh tee\nSelling points:\n1. Soft cotton\n2. Breathable\n3. Easy to match\n"
                    "Description: A tee.\nWear it daily.")
    assert en.title == "A fresh tee" and en.selling_points == ["Soft cotton", "Breathable", "Easy to match"]
    assert en.description == "A tee. Wear it daily."


def test_parse_drops_repeated_points():
    got = parse_copy("标题：毛衣\n" + "卖点：做工精细\n" * 8 + "卖点：百搭\n")
    assert got.selling_points == ["做工精细", "百搭"] and got.description == ""


def test_parse_failure_keeps_the_whole_text_as_description():
    got = parse_copy("这是一件很好的T恤，穿着舒服。")
    assert not got.ok and got.title == "" and got.selling_points == []
    assert got.description == "这是一件很好的T恤，穿着舒服。"


# -- grounding -------------------------------------------------------------------------------------------
def test_ungrounded_terms_numbers_colours_materials():
    tee = Product(**TEE)
    assert ungrounded_terms("纯棉白T，M到XL，售价129元。", [tee]) == []
    assert ungrounded_terms("售价99元，真丝面料，红色可选，100%好评", [tee]) == ["99元", "100%", "红色", "真丝"]
    assert ungrounded_terms("Soft cotton in white", [tee]) == []
    assert ungrounded_terms("Pure silk, now in black", [tee]) == ["黑色", "silk"]
    assert ungrounded_terms("支持蓝牙连接，美白", [tee]) == []  # not colours


def test_write_copy_removes_invented_price_and_material(index):
    seen = []
    text = ("标题：云裳白色纯棉T恤\n"
            "卖点：纯棉面料，柔软透气\n"
            "卖点：真丝般顺滑的真丝混纺\n"
            "卖点：M到XL三个尺码\n"
            "描述：这款白色T恤采用纯棉面料。现在售价99元，超值！夏天穿着清爽舒适。")
    res = write_copy(index, "T1", generate=scripted(text, seen))
    assert seen and "材质：纯棉" in seen[0]
    assert res.title == "云裳白色纯棉T恤"
    assert res.selling_points == ["纯棉面料，柔软透气", "M到XL三个尺码"]
    assert res.description == "这款白色T恤采用纯棉面料。夏天穿着清爽舒适。"
    assert res.ungrounded == ["真丝", "99元"]
    assert res.removed == ["真丝般顺滑的真丝混纺", "现在售价99元，超值！"]
    assert "removed 2 sentence(s) with claims not in the catalog: 真丝, 99元" in res.trace
    assert res.card.id == "T1" and res.raw == text


def test_write_copy_keeps_grounded_numbers(index):
    text = "标题：暖居蓝色保温杯\n卖点：304不锈钢\n卖点：500ml大容量\n卖点：89元\n描述：蓝色保温杯，500ml，89元。"
    res = write_copy(index, "C1", style="促销", generate=scripted(text))
    assert res.ungrounded == [] and res.selling_points == ["304不锈钢", "500ml大容量", "89元"]
    assert res.trace == "copy for C1 (促销, zh): title, 3 selling points, 16-char description"


def test_write_copy_replaces_an_ungrounded_title(index):
    res = write_copy(index, "C1", generate=scripted("标题：红色保温杯 1000ml\n描述：好用。"))
    assert res.title == "蓝色保温杯 500ml" and set(res.ungrounded) == {"1000ml", "红色"}


def test_write_copy_degrades_gracefully_on_unparsed_output(index):
    res = write_copy(index, "T1", language="en", style="concise",
                     generate=scripted("A soft white cotton tee. Now only 59 CNY!"))
    assert res.title == "白色纯棉T恤" and res.selling_points == []
    assert res.description == "A soft white cotton tee." and res.ungrounded == ["59"]
    assert "not in the asked format" in res.trace and "(concise, en)" in res.trace


def test_write_copy_errors(index):
    with pytest.raises(ToolError, match="Unknown product id 'NOPE'"):
        write_copy(index, "NOPE", generate=scripted(""))
    with pytest.raises(ToolError, match="Unknown style"):
        write_copy(index, "T1", style="funny", generate=scripted(""))


def test_repeated_clauses_are_dropped_from_the_description():
    from daogou.tools.copywriter import drop_repeats

    looping = "描述：宽大，透气舒适，适合各种场合，宽大，透气舒适，适合各种场合，宽大，透气"
    assert parse_copy(looping).description == "宽大，透气舒适，适合各种场合，透气"
    assert drop_repeats("显瘦，复古，复古。线条、撞色、复古") == "显瘦，复古，线条、撞色、"
    assert drop_repeats("第一句。第二句。") == "第一句。第二句。"
    assert drop_repeats("A tee. Wear it daily.") == "A tee. Wear it daily."


def test_the_shops_boilerplate_is_not_sold_as_copy(fake_store, settings, tmp_path):
    from daogou.tools.copywriter import without_boilerplate
    from tests.fakes.catalog import SHOP_ROWS, load_catalog

    small_print = " All orders ship within 2 business days. Backed by our 30-day hassle-free return policy."
    rows = [dict(r, description=f"{r['title']} in {r.get('brand', '')}.{small_print}") for r in SHOP_ROWS]
    index = load_catalog(fake_store, settings, tmp_path, rows)
    p = index.store.get_products(["D1"])[0]
    clean = without_boilerplate(p, index)
    assert "ship within" not in clean.description and "return policy" not in clean.description
    assert clean.description.startswith("红色碎花连衣裙")  # the product's own sentence stays
    assert without_boilerplate(clean, index).description == clean.description
