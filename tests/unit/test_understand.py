import pytest

from daogou.agent.reading import detect_lang, read_rules
from daogou.agent.state import DialogueState, ShownProduct
from daogou.tools.query import Vocabulary
from tests.fakes.catalog import VocabularyIndex

VOCAB = Vocabulary(categories=frozenset(["服装", "鞋靴", "数码"]), brands=frozenset(["云裳 Yunshang", "Nike"]))
INDEX = VocabularyIndex(VOCAB, ids=["P1", "P2", "P3"])


def read_turn(text: str, state: DialogueState, vocab: Vocabulary):  # noqa: ANN201
    return read_rules(text, state, INDEX)


def _state() -> DialogueState:
    products = {f"P{i}": ShownProduct(id=f"P{i}", title=f"t{i}", price=100.0 * i,
                                      brand="Nike" if i == 1 else "云裳 Yunshang") for i in (1, 2, 3)}
    from daogou.ingest.filters import Filters
    return DialogueState(query="连衣裙", shown=["P1", "P2", "P3"], catalog_seen=products,
                         filters=Filters(price_max=500, sizes=("M",)))


@pytest.mark.parametrize(
    ("text", "intent", "refs"),
    [
        ("你好", "greet", []),
        ("Hello there!", "greet", []),
        ("红色连衣裙 300元以内", "search", []),
        ("便宜点的", "refine", []),
        ("换成蓝色", "refine", []),
        ("第二个防水吗？", "answer", ["P2"]),
        ("比较一下第一个和第二个", "compare", ["P1", "P2"]),
        ("compare the first and the third", "compare", ["P1", "P3"]),
        ("类似的", "similar", []),
        ("show me more like the second one", "similar", ["P2"]),
        ("给我推荐点我可能喜欢的", "recommend", []),
        ("帮第一个写一段活泼的文案", "copy", ["P1"]),
        ("那T恤呢", "search", []),
        ("not that brand", "refine", ["P1"]),
        ("tell me more about the second one", "details", ["P2"]),
        ("what material is it?", "answer", ["P1"]),
        ("送女朋友的生日礼物 500以内", "search", []),
        ("cheaper ones?", "refine", []),
    ],
)
def test_intents_and_references(text, intent, refs):
    r = read_turn(text, _state(), VOCAB)
    assert r.intent == intent
    assert r.refs == refs


def test_refinements_revise_carried_constraints():
    s = _state()
    assert read_turn("便宜点的", s, VOCAB).filters.price_max == pytest.approx(199.99)  # below the median shown
    r = read_turn("要大一号的", s, VOCAB)
    assert r.intent == "refine" and r.filters.sizes == ("L",) and r.filters.price_max == 500
    r = read_turn("not that brand", s, VOCAB)
    assert r.filters.exclude_brands == ("Nike",)
    r = read_turn("换成蓝色", s, VOCAB)
    assert r.filters.colors == ("蓝色",) and r.filters.price_max == 500 and r.query == "连衣裙"


def test_new_search_keeps_the_budget_but_not_the_words():
    r = read_turn("那T恤呢", _state(), VOCAB)
    assert r.query == "T恤" and r.filters.price_max == 500 and r.filters.sizes == ()


def test_signals():
    r = read_turn("我喜欢第一个", _state(), VOCAB)
    assert r.signals == [("P1", "liked")]
    assert read_turn("show me more like the second one", _state(), VOCAB).signals == []
    assert read_turn("I don't like the third one", _state(), VOCAB).signals == [("P3", "disliked")]


def test_language():
    assert detect_lang("红色连衣裙") == "zh"
    assert detect_lang("red dress under 300") == "en"
    assert detect_lang("iPhone 15 手机壳有吗") == "zh"
    assert detect_lang("ok", default="en") == "en"
