from daogou.agent.grounding import Facts, SentenceGate, check_sentence, ground_text, split_sentences

PRODUCTS = [{"id": "P1001", "title": "红色碎花连衣裙 / Red floral dress", "price": 199.0, "attributes": {"颜色": "红色"}},
            {"id": "P1002", "title": "蓝色牛仔连衣裙 / Blue denim dress", "price": 259.0, "attributes": {"颜色": "蓝色"}}]


def facts(user=""):
    return Facts.build(PRODUCTS, this_turn=PRODUCTS, user_texts=[user])


def test_grounded_sentences_pass():
    assert check_sentence("推荐红色碎花连衣裙，只要199元。", facts()) == []
    assert check_sentence("The blue one is ¥259.00.", facts()) == []
    assert check_sentence("预算300以内都可以。", facts("300元以内")) == []


def test_invented_price_id_free_colour_and_title_are_caught():
    assert "price 99" in check_sentence("现在只要99元！", facts())[0]
    assert "P9999" in check_sentence("P9999 is great.", facts())[0]
    assert check_sentence("这件商品免费送。", facts())
    assert check_sentence("It costs nothing today.", facts())
    assert "绿色" in check_sentence("还有绿色可选。", facts())[0]
    assert check_sentence("推荐「黄金手镯」。", facts())


def test_ground_text_removes_only_bad_sentences():
    text, removed = ground_text("这条红色碎花连衣裙很好看。现在只要99元！库存充足。", facts())
    assert text == "这条红色碎花连衣裙很好看。库存充足。"
    assert len(removed) == 1 and "99" in removed[0]


def test_sentence_gate_streams_checked_sentences():
    gate = SentenceGate(facts())
    out = "".join(gate.feed(t) for t in ["推荐", "第一件", "，199元。", "限时", "免费", "！", "快来"]) + gate.close()
    assert out == "推荐第一件，199元。快来"
    assert gate.removed and "免费" in gate.removed[0]


def test_split_sentences_keeps_punctuation():
    assert split_sentences("A. B! 好的。最后") == ["A.", " B!", " 好的。", "最后"]


def test_sentence_gate_waits_when_a_stream_pauses_on_a_decimal_point():
    f = Facts.build([{"id": "P1", "title": "黄色瑜伽垫 / Yellow yoga mat", "price": 95.9}],
                    this_turn=[{"id": "P1", "title": "黄色瑜伽垫 / Yellow yoga mat", "price": 95.9}], user_texts=[])
    gate = SentenceGate(f)
    out = [gate.feed(t) for t in ["Its price is 95", ".", "9 CNY. Nice", "!"]]
    assert out == ["", "", "Its price is 95.9 CNY.", " Nice!"]  # "95." was not cut off as a sentence
    assert gate.close() == "" and not gate.removed


SKUS = [{"id": "SKU-1092", "title": "Walnut Side Table", "price": 119.0, "brand": "WoodCraft",
         "attributes": {"color": "Brown", "material": "Walnut veneer"}},
        {"id": "100042754736", "title": "美的60升电热水器", "price": 1299.0, "price_max": 1399.0,
         "attributes": {"容量": "60L", "材质": "不锈钢"}}]


def sku_facts(user="", lang=""):
    f = Facts.build(SKUS, this_turn=SKUS, user_texts=[user])
    f.lang = lang
    return f


def test_ids_of_any_shape_and_currencies():
    assert check_sentence("SKU-1092 is $119.", sku_facts()) == []
    assert check_sentence("100042754736 售价1299元，最高1399元。", sku_facts()) == []
    assert "SKU-2000" in check_sentence("Try SKU-2000 instead.", sku_facts())[0]
    assert "999999999999" in check_sentence("另一款999999999999也不错。", sku_facts())[0]
    assert check_sentence("It is only $99.", sku_facts())  # not a price shown
    assert check_sentence("It costs 99 dollars.", sku_facts())
    assert check_sentence("Asked about SKU-7777? Not here.", sku_facts("what about SKU-7777")) == []


def test_instruction_leaks_are_caught():
    for s in ("Recommend the Walnut Side Table to the shopper.", "The shopper should consider the table.",
              "The shopper said: cheaper ones?", "Product data (data only): 1. table", "顾客说想要便宜的。",
              "根据商品数据，这款很好。", "推荐最符合顾客需求的那件：胡桃木边桌。", "用一到三句话回答顾客：这张桌子不错。",
              "购物者想要一张桌子。", "Say so honestly: none match.", "<|im_start|>assistant",
              "assistant: the table is nice.", "这款适合你，只说材料: 玻璃。",
              "In one sentence: the table is walnut."):
        assert any("leak" in p for p in check_sentence(s, sku_facts())), s


def test_a_value_given_to_the_wrong_attribute_is_caught():
    assert any("材质" in p for p in check_sentence("这款材质：蓝色，很耐用。", sku_facts()))
    assert any("material" in p for p in check_sentence("Its material is brown.", sku_facts()))
    assert check_sentence("材质是不锈钢的，容量60L。", sku_facts()) == []


def test_echo_broken_characters_and_language():
    long_msg = "I am looking for a table that can hold my plants and books in the corner of the living room"
    assert any("echo" in p for p in check_sentence("You said a table that can hold my plants and books.",
                                                   sku_facts(long_msg)))
    assert any("broken" in p for p in check_sentence("材质: \ufffd", sku_facts()))
    assert any("English" in p for p in check_sentence("这张桌子很适合客厅使用。", sku_facts(lang="en")))
    assert check_sentence("The 美的60升电热水器 suits a family of four.", sku_facts(lang="en")) == []


def test_another_products_value_or_price_is_caught():
    items = [{"id": "K1", "title": "KettlePro Electric Kettle 1.7L", "price": 39.99, "attributes": {"power": "1500 W"}},
             {"id": "K2", "title": "ChefNova 8-Piece Knife Set with Block", "price": 59.95,
              "attributes": {"material": "German steel"}}]
    f = Facts.build(items, this_turn=items)
    assert any("another product" in p for p in check_sentence(
        "The ChefNova 8-Piece Knife Set with Block has a power of 1500 W.", f))
    assert any("price of another" in p for p in check_sentence("The ChefNova 8-Piece Knife Set is $39.99.", f))
    assert check_sentence("The ChefNova 8-Piece Knife Set is German steel, $59.95.", f) == []
    assert check_sentence("The kettle is $39.99 and the knife set $59.95.", f) == []  # two products, each its own
