"""The model's reading of a turn: its prompt, its schema, and what happens when the model fails or is busy."""

from __future__ import annotations

from daogou.agent.model_reading import ACTS, ModelReader
from daogou.agent.state import DialogueState, ShownProduct
from daogou.llm.generation import GenerationError
from daogou.tools.vocabulary import Vocabulary
from tests.fakes.catalog import VocabularyIndex

INDEX = VocabularyIndex(Vocabulary(kinds=("电热水器", "燃气热水器", "净水器"), product_count=3), ids=["A", "B", "C"])


class Model:
    def __init__(self, answer=None, error=None, pending=0):
        self.answer, self.error, self.pending, self.calls = answer, error, pending, []

    def generate_json(self, messages, schema, *, max_new_tokens=64):
        self.calls.append((messages, schema))
        if self.error:
            raise self.error
        return self.answer


def _state(n: int) -> DialogueState:
    seen = {f"S{i}": ShownProduct(id=f"S{i}", title=f"热水器{i}") for i in range(n)}
    return DialogueState(shown=list(seen), catalog_seen=seen)


def test_the_prompt_holds_the_shops_kinds_the_screen_and_a_bounded_message():
    model = Model({"act": "answer", "kinds": ["电热水器", "电热水器"], "refs": [2, 9]})
    reading = ModelReader(model, INDEX)("保修几年" + "啊" * 1000, _state(2))
    messages, schema = model.calls[0]
    assert "电热水器、燃气热水器、净水器" in messages[0]["content"]
    assert "1. 热水器0; 2. 热水器1" in messages[-1]["content"] and len(messages[-1]["content"]) < 400
    assert schema["properties"]["refs"]["items"]["maximum"] == 2
    assert schema["properties"]["act"]["enum"] == list(ACTS)
    assert reading.act == "answer" and reading.kinds == ["电热水器"] and reading.refs == [2]  # 9 is off screen


def test_the_system_prompt_is_the_same_every_turn_so_its_kv_is_reused():
    model = Model({"act": "chat", "kinds": [], "refs": []})
    reader = ModelReader(model, INDEX)
    reader("你好", _state(0))
    reader("有没有燃气热水器", _state(3))
    first, second = model.calls[0][0], model.calls[1][0]
    assert first[:-1] == second[:-1]  # system prompt and few-shot turns: one prefix


def test_a_failing_or_busy_model_leaves_the_turn_to_the_rules():
    assert ModelReader(Model(error=GenerationError("not complete")), INDEX)("x", _state(0)) is None
    busy = Model({"act": "chat", "kinds": [], "refs": []}, pending=1)
    assert ModelReader(busy, INDEX)("x", _state(0)) is None and busy.calls == []  # never queued behind another
