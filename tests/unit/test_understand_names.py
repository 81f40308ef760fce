"""Products named in full, follow-up questions, "which one", small talk that closes, "cheapest", "有X的吗"."""

from daogou.agent.policy import choose_tool
from daogou.agent.reading import read_rules
from daogou.agent.state import DialogueState, ShownProduct
from daogou.ingest.filters import Filters
from daogou.tools.query import Vocabulary, name_index, title_terms
from tests.fakes.catalog import VocabularyIndex

TITLES = {
    "P1": "灰色轻薄手机 256GB / Grey slim phone 256GB",
    "P2": "黑色5G手机 256GB / Black 5G phone 256GB",
    "P3": "龙井茶叶 250g / Longjing tea 250g",
    "P4": "粉色连帽外套 / Pink hooded jacket",
    "P5": "米色冲锋衣外套 / Beige outdoor shell jacket",
    "P6": "黑色跑步鞋 / Black running shoes",
    "P7": "黑色跑步鞋 / Black running shoes",  # the same name twice: a kind, not one product
    "P8": "黑色5号足球 / Black size-5 football",
}
VOCAB = Vocabulary(categories=frozenset(["数码", "食品", "服装", "鞋靴"]),
                   title_terms=title_terms(list(TITLES.values())), names=name_index(list(TITLES.items())))
INDEX = VocabularyIndex(VOCAB, ids=list(TITLES), titles=TITLES)


def read_turn(text: str, state: DialogueState, vocab: Vocabulary):  # noqa: ANN201
    return read_rules(text, state, INDEX)


def _seen(*ids: str) -> dict[str, ShownProduct]:
    return {i: ShownProduct(id=i, title=TITLES[i], price=100.0) for i in ids}


def test_named_products_in_text_order_longest_name_and_ambiguity():
    assert VOCAB.named_products("compare the Black 5G phone and the Grey slim phone") == ["P2", "P1"]
    assert VOCAB.named_products("龙井茶叶保质期多久？") == ["P3"]
    assert VOCAB.named_products("Are the Black running shoes in stock?") == []  # two products share that name
    assert VOCAB.named_products("我想买手机") == []  # a kind, too short to be a name
    assert VOCAB.without_names("How big is the battery on the Grey slim phone?").strip() == \
        "How big is the battery on the ?"


def test_question_naming_a_product_not_on_screen_is_answered_about_it():
    r = read_turn("How big is the battery on the Grey slim phone?", DialogueState(), VOCAB)
    assert (r.intent, r.refs, r.named) == ("answer", ["P1"], True)
    assert "grey" not in r.question.lower()  # the name is not part of the question
    call = choose_tool(r, DialogueState(), False)
    assert call.name == "answer_about_product" and call.args["product_id"] == "P1"


def test_do_you_have_a_named_product_stays_a_search():
    assert read_turn("有没有米色冲锋衣外套", DialogueState(), VOCAB).intent == "search"


def test_compare_by_names():
    r = read_turn("Can you compare the Black 5G phone and the Grey slim phone for me?", DialogueState(), VOCAB)
    assert (r.intent, r.refs) == ("compare", ["P2", "P1"])


def test_elliptic_question_about_another_named_product_reuses_the_question():
    state = DialogueState(shown=["P5"], focus="P5", catalog_seen=_seen("P5"), last_tool="answer_about_product",
                          last_question="这件防水吗")
    r = read_turn("那粉色连帽外套呢？", state, VOCAB)
    assert (r.intent, r.refs, r.question) == ("answer", ["P4"], "这件防水吗")


def test_follow_up_question_stays_on_the_product_just_answered():
    state = DialogueState(shown=[], focus="P3", catalog_seen=_seen("P3"), last_tool="answer_about_product")
    r = read_turn("一罐有多少克？", state, VOCAB)
    assert (r.intent, r.refs) == ("answer", ["P3"])


def test_which_one_asks_the_question_of_each_product_shown():
    state = DialogueState(shown=["P2", "P1"], catalog_seen=_seen("P1", "P2"), last_tool="compare_products")
    r = read_turn("Which one is waterproof?", state, VOCAB)
    assert (r.intent, r.refs) == ("answer", ["P2", "P1"])
    call = choose_tool(r, state, False)
    assert call.args == {"product_ids": ["P2", "P1"], "question": "Which one is waterproof"}


def test_thanks_that_closes_is_small_talk_even_with_a_pronoun():
    state = DialogueState(query="toy", shown=["P8"], focus="P8", catalog_seen=_seen("P8"))
    r = read_turn("great, thanks, that's all for now", state, VOCAB)
    assert (r.intent, r.farewell) == ("greet", True)
    assert choose_tool(r, state, False).reply == "farewell"


def test_what_do_you_sell_is_an_overview_without_a_tool():
    r = read_turn("你们店里都卖些什么？", DialogueState(), VOCAB)
    call = choose_tool(r, DialogueState(), False)
    assert (r.intent, call.name, call.reply) == ("overview", None, "overview")


def test_cheapest_drops_the_carried_budget_and_sorts_by_price():
    state = DialogueState(query="phone", filters=Filters(price_max=100))
    r = read_turn("ok, what's the cheapest phone you've got then?", state, VOCAB)
    call = choose_tool(r, state, False)
    assert call.args.get("sort") == "price" and "price_max" not in call.args


def test_have_x_refines_the_search_with_a_keyword():
    state = DialogueState(query="猫粮", shown=["P3"], catalog_seen=_seen("P3"), filters=Filters(price_max=150))
    r = read_turn("有三文鱼口味的吗？", state, VOCAB)
    call = choose_tool(r, state, False)
    assert r.intent == "refine" and call.args["keywords"] == ["三文鱼"] and call.args["price_max"] == 150


def test_refinement_after_more_like_this_keeps_the_anchor():
    state = DialogueState(query="", shown=["P6"], catalog_seen=_seen("P6"), anchor="P6", focus="P6",
                          last_tool="similar_products", filters=Filters())
    r = read_turn("under 200 please", state, VOCAB)
    call = choose_tool(r, state, False)
    assert call.name == "similar_products" and call.args == {"product_id": "P6", "price_max": 200}


def test_recommend_uses_only_what_this_turn_says_and_else_excludes_seen():
    state = DialogueState(query="连衣裙", filters=Filters(colors=("红色",), price_max=300), shown=["P4"],
                          catalog_seen=_seen("P4"))
    r = read_turn("根据我喜欢的这些，再给我推荐几件吧", state, VOCAB)
    call = choose_tool(r, state, False)
    assert call.name == "recommend_for_user" and "color" not in call.args and "price_max" not in call.args
    assert call.args["exclude_seen"] is True


def test_english_head_term_ignores_trailing_modifiers():
    assert VOCAB.head_term("running shoes in size 39") == "running shoe"
    assert VOCAB.head_term("any in purple") is None  # a colour is not a kind of product


def test_the_model_reading_is_taken_only_where_the_words_leave_room_and_is_checked():
    from daogou.agent.model_reading import ModelReading
    from daogou.agent.reading import combine

    state = DialogueState(query="phone", shown=["P1", "P2"], catalog_seen=_seen("P1", "P2"))
    vague = read_turn("hmm, and the second thing about it", DialogueState(), VOCAB)
    assert vague.intent == "search" and vague.uncertain
    # no product on screen: an answer has nothing to point at, so the rules' search stays
    r = combine(vague, ModelReading("answer", refs=[1]), "hmm", DialogueState(), INDEX)
    assert r.intent == "search" and r.source == "rules"
    unclear = read_turn("嗯……这个嘛", state, VOCAB)
    assert unclear.uncertain
    r = combine(unclear, ModelReading("answer", refs=[2]), "嗯……这个嘛", state, INDEX)
    assert r.intent == "answer" and r.refs == ["P2"] and r.source == "model"  # on screen: kept
    call = choose_tool(r, state, False)
    assert call.name == "answer_about_product" and call.args["product_id"] == "P2" and "price_max" not in call.args
    # a clear cue wins over the model
    clear = read_turn("比较一下第一个和第二个", state, VOCAB)
    assert not clear.uncertain
    r = combine(clear, ModelReading("search", kinds=["phone"]), "比较", state, INDEX)
    assert choose_tool(r, state, False).name == "compare_products" and "the words ask for compare" in r.notes[-1]
    # refs beyond the screen are dropped; kinds the catalog does not sell are not searched for
    need = read_turn("something for my dad's birthday", DialogueState(), VOCAB)
    r = combine(need, ModelReading("search", kinds=["fishing rod", "tea"], refs=[7]), "x", DialogueState(), INDEX)
    assert "fishing rod" not in r.kinds and r.refs == []


def test_a_needs_kinds_are_searched_as_ideas_a_named_kind_is_not():
    gift = read_turn("a birthday present for my mom", DialogueState(), VOCAB)  # needs.yaml: mom -> tea
    assert gift.kinds and gift.ideas and choose_tool(gift, DialogueState(), False).args.get("widen") is True
    named = read_turn("running shoes for my girlfriend", DialogueState(), VOCAB)
    assert named.kinds and not named.ideas and "widen" not in choose_tool(named, DialogueState(), False).args


def test_a_hobby_decides_over_the_person_and_a_cheaper_one_keeps_the_ideas():
    """"for my mom, she loves running": running kinds (跑步鞋), not what one buys any mum (茶叶); "mom" alone gives
    those. Then "有没有更便宜一点的？" refines the same ideas, cheaper, not a bare text search."""
    from daogou.agent.reading import need_kinds

    assert need_kinds("a gift for my mom, she loves running", VOCAB) == ["running shoe", "跑步鞋"]
    assert need_kinds("给我妈买个礼物，她喜欢跑步", VOCAB) == ["running shoe", "跑步鞋"]
    assert need_kinds("a birthday present for my mom", VOCAB) == ["tea", "茶叶"]
    state = DialogueState(query="给我妈买个礼物，她喜欢跑步", kinds=["running shoe", "跑步鞋"], need=True,
                          shown=["P6", "P7"], catalog_seen=_seen("P6", "P7"))
    cheaper = read_turn("有没有更便宜一点的？", state, VOCAB)
    assert cheaper.intent == "refine" and cheaper.kinds == ["running shoe", "跑步鞋"] and cheaper.ideas
    assert choose_tool(cheaper, state, False).args.get("kinds") == ["running shoe", "跑步鞋"]


def test_reader_setting(monkeypatch):
    import pytest

    from daogou.assistant import make_reader
    from daogou.settings import Settings

    assert Settings.from_env().reader == "model"
    monkeypatch.setenv("DAOGOU_READER", "Rules")
    assert Settings.from_env().reader == "rules"
    monkeypatch.setenv("DAOGOU_READER", "llm")
    with pytest.raises(ValueError, match="DAOGOU_READER='llm' is not one of model, rules"):
        Settings.from_env()
    # a writer without constrained decoding cannot read turns; none at all reads nothing
    assert make_reader(Settings(reader="model"), object(), None) is None
    assert make_reader(Settings(reader="model"), None, None) is None


def test_that_one_with_the_kind_of_a_product_on_screen_points_at_it():
    state = DialogueState(query="礼物", shown=["P3", "P4", "P1"], catalog_seen=_seen("P3", "P4", "P1"), focus="P3")
    r = read_turn("那个连帽外套有什么尺码？", state, VOCAB)
    assert r.refs == ["P4"]
    assert read_turn("这个有什么尺码？", state, VOCAB).refs == ["P3"]  # no kind named: the product in focus
    assert read_turn("那个茶叶有多重？", state, VOCAB).refs == ["P3"]  # the focus is the one named: it stays


def test_a_stock_question_after_a_question_about_one_product_is_about_it():
    state = DialogueState(query="茶", shown=["P3", "P4"], catalog_seen=_seen("P3", "P4"), focus="P3",
                          last_tool="answer_about_product")
    r = read_turn("现在有货吗？", state, VOCAB)
    assert r.intent == "answer" and r.refs == ["P3"]
    assert read_turn("Is it in stock?", state, VOCAB).refs == ["P3"]


def test_that_one_naming_a_kind_the_focus_is_not_finds_the_product_of_that_kind():
    state = DialogueState(query="茶", shown=["P3"], catalog_seen=_seen("P3"), focus="P3")
    r = read_turn("那个连帽外套是什么颜色的？", state, VOCAB)
    assert r.refs == ["P4"] and r.intent == "answer"
    assert read_turn("这个茶叶是什么颜色的？", state, VOCAB).refs == ["P3"]  # the focus is of that kind: it stays


def test_a_longer_name_of_a_product_off_screen_is_not_read_as_the_one_on_screen():
    """"空调罩多少钱？" with only an expansion valve "…空调冷库…" on screen: the words share 空调 with it, but
    "空调罩" is written in another title of the catalog and in none on screen, so they name that product: a
    search, not a question about the valve. "这个膨胀阀多少钱？" still asks about the one on screen."""
    titles = {"V-1": "艾默生空调冷库双向热力膨胀阀", "C-9": "北欧全包空调罩挂式防尘套", "K-3": "富光保温杯"}
    vocab = Vocabulary(title_terms=title_terms(list(titles.values())), names=name_index(list(titles.items())))
    index = VocabularyIndex(vocab, ids=list(titles), titles=titles)
    state = DialogueState(shown=["V-1"], catalog_seen={"V-1": ShownProduct(id="V-1", title=titles["V-1"],
                                                                           price=24.9)})
    cover = read_rules("空调罩多少钱？", state, index)
    assert cover.intent == "search" and cover.refs == []
    valve = read_rules("这个膨胀阀多少钱？", state, index)
    assert valve.intent == "answer" and valve.refs == ["V-1"]
