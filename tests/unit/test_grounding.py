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
