"""LocalChatModel with a scripted LLM: decision schemas, tool_choice, parsing, history rendering, streaming, async."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from daogou.llm.backends import make_chat_model
from daogou.llm.chat_model import (
    RESPOND,
    TOOL_CALL_PREFIX,
    LocalChatModel,
    allowed_tools,
    compact_schema,
    decision_schema,
    parse_decision,
    pick_examples,
    to_chat_messages,
)
from daogou.llm.transformers_engine import GenerationError, GenerationStats, LocalLLM, _stop_cut


class ScriptedLLM:
    """Stands in for LocalLLM: scripted decisions (checked against the schema, as the grammar would) and tokens."""

    def __init__(self, decisions: list[Any] | None = None, texts: list[list[str]] | None = None) -> None:
        self.decisions = list(decisions or [])
        self.texts = list(texts or [])
        self.calls: list[dict[str, Any]] = []
        self.last_stats: GenerationStats | None = None

    def generate_json(self, messages, schema, *, tools=None, assistant_prefix="", max_new_tokens=128, stats=None):
        self.calls.append({"kind": "json", "messages": messages, "schema": schema, "tools": tools,
                           "prefix": assistant_prefix})
        decision = self.decisions.pop(0)
        if isinstance(decision, Exception):
            raise decision
        jsonschema.validate(decision, schema)
        if stats is not None:
            stats.prompt_tokens, stats.decode_tokens = 500, 20
        return decision

    def stream(self, messages, *, tools=None, max_new_tokens=160, temperature=0.0, stop=None, stats=None):
        self.calls.append({"kind": "text", "messages": messages, "tools": tools, "stop": stop,
                           "max_new_tokens": max_new_tokens})
        tokens = self.texts.pop(0) if self.texts else ["好", "的"]
        if stats is not None:
            stats.prompt_tokens, stats.decode_tokens = 40, len(tokens)
        yield from tokens


class SearchArgs(BaseModel):
    """Find products."""

    query: str = Field(description="what the shopper wants")
    price_max: float | None = Field(default=None, ge=0, description="highest price")
    color: str | None = None


class SimilarArgs(BaseModel):
    """Products like one already shown."""

    product_id: str


@tool("search_catalog", args_schema=SearchArgs)
def search_catalog(query: str, price_max: float | None = None, color: str | None = None) -> str:
    """Find products by description and filters."""
    return "[]"


@tool("similar_products", args_schema=SimilarArgs)
def similar_products(product_id: str) -> str:
    """Products like one already shown."""
    return "[]"


TOOLS = [search_catalog, similar_products]


def _openai_tools() -> list[dict[str, Any]]:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    return [compact_schema(convert_to_openai_tool(t)) for t in TOOLS]


# ------------------------------------------------------------------------------------------ pure helpers
def test_compact_schema_drops_null_options_titles_and_null_defaults_but_keeps_a_property_named_title():
    schema = {"title": "Args", "type": "object", "properties": {
        "title": {"title": "Title", "type": "string"},
        "price_max": {"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}], "default": None,
                      "description": "highest price"}}, "required": ["title"]}
    assert compact_schema(schema) == {"type": "object", "properties": {
        "title": {"type": "string"},
        "price_max": {"type": "number", "minimum": 0, "description": "highest price"}}, "required": ["title"]}


def test_decision_schema_has_one_branch_per_tool_plus_respond_and_rejects_mismatched_arguments():
    tools = _openai_tools()
    schema = decision_schema(tools, ["search_catalog", "similar_products"], respond=True)
    assert [b["properties"]["name"]["const"] for b in schema["anyOf"]] == ["search_catalog", "similar_products",
                                                                           RESPOND]
    jsonschema.validate({"name": "search_catalog", "arguments": {"query": "连衣裙", "price_max": 300}}, schema)
    jsonschema.validate({"name": RESPOND, "arguments": {}}, schema)
    for bad in ({"name": "similar_products", "arguments": {"query": "x"}},  # another tool's arguments
                {"name": "search_catalog", "arguments": {}},  # required argument missing
                {"name": "search_catalog", "arguments": {"query": "x", "price_max": -1}},
                {"name": RESPOND, "arguments": {"query": "x"}},
                {"name": "buy_now", "arguments": {}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_decision_schema_without_respond_and_with_one_tool_is_that_tool_only():
    schema = decision_schema(_openai_tools(), ["similar_products"], respond=False)
    assert schema["properties"]["name"] == {"const": "similar_products"}
    with pytest.raises(ValueError, match="nothing to decide"):
        decision_schema(_openai_tools(), [], respond=False)


def test_decision_schema_hoists_each_tools_defs_under_prefixed_names():
    tool_a = {"type": "function", "function": {"name": "a", "parameters": {
        "type": "object", "properties": {"x": {"$ref": "#/$defs/Item"}}, "required": ["x"],
        "$defs": {"Item": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}}}}}
    tool_b = {"type": "function", "function": {"name": "b", "parameters": {
        "type": "object", "properties": {"x": {"$ref": "#/$defs/Item"}}, "required": ["x"],
        "$defs": {"Item": {"type": "integer"}}}}}
    schema = decision_schema([tool_a, tool_b], ["a", "b"], respond=False)
    assert set(schema["$defs"]) == {"a__Item", "b__Item"}
    jsonschema.validate({"name": "a", "arguments": {"x": {"id": "P1"}}}, schema)
    jsonschema.validate({"name": "b", "arguments": {"x": 3}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "b", "arguments": {"x": {"id": "P1"}}}, schema)


@pytest.mark.parametrize(("choice", "expected"), [
    (None, (["search_catalog", "similar_products"], True)),
    ("auto", (["search_catalog", "similar_products"], True)),
    ("none", ([], True)),
    ("any", (["search_catalog", "similar_products"], False)),
    ("required", (["search_catalog", "similar_products"], False)),
    (True, (["search_catalog", "similar_products"], False)),
    ("similar_products", (["similar_products"], False)),
    ({"type": "function", "function": {"name": "search_catalog"}}, (["search_catalog"], False)),
])
def test_allowed_tools_follows_tool_choice(choice, expected):
    assert allowed_tools(choice, ["search_catalog", "similar_products"]) == expected


def test_allowed_tools_names_the_valid_choices_for_a_bad_one():
    with pytest.raises(ValueError, match=r"'buy_now'.*search_catalog"):
        allowed_tools("buy_now", ["search_catalog"])


def test_parse_decision_makes_a_tool_call_drops_null_optionals_and_maps_respond_to_none():
    tools = _openai_tools()
    call = parse_decision({"name": "search_catalog", "arguments": {"query": "裙", "color": None}}, tools)
    assert call["name"] == "search_catalog" and call["args"] == {"query": "裙"}
    assert call["id"].startswith("call_") and call["type"] == "tool_call"
    assert parse_decision({"name": RESPOND, "arguments": {}}, tools) is None
    with pytest.raises(GenerationError, match="unknown tool 'buy_now'"):
        parse_decision({"name": "buy_now", "arguments": {}}, tools)
    with pytest.raises(GenerationError, match="must be"):
        parse_decision(["search_catalog"], tools)


def test_pick_examples_keeps_only_examples_that_fit_the_allowed_tools():
    examples = [{"user": "500元以下的运动鞋", "name": "search_catalog",
                 "arguments": {"query": "运动鞋", "price_max": 500}},
                {"user": "x", "name": "search_catalog", "arguments": {"q": "wrong arg name"}},
                {"user": "like P2", "name": "similar_products", "arguments": {"product_id": "P2"}},
                {"user": "not bound", "name": "write_copy", "arguments": {"product_id": "P2"}},
                {"user": "谢谢", "name": RESPOND, "arguments": {}}]
    tools = _openai_tools()
    got = pick_examples(examples, tools, ["search_catalog", "similar_products"], respond=True)
    assert [g["user"] for g in got] == ["500元以下的运动鞋", "like P2", "谢谢"]
    assert json.loads(got[0]["call"]) == {"name": "search_catalog", "arguments": {"query": "运动鞋", "price_max": 500}}
    only = pick_examples(examples, tools, ["similar_products"], respond=False)
    assert [g["user"] for g in only] == ["like P2"]


def test_history_with_tool_calls_and_tool_results_renders_as_chat_template_dicts():
    history = [SystemMessage("你是导购"), HumanMessage("找连衣裙"),
               AIMessage(content="", tool_calls=[{"name": "search_catalog", "args": {"query": "连衣裙"}, "id": "c1"}]),
               ToolMessage(content='[{"id": "P1"}]', tool_call_id="c1"),
               AIMessage("找到一件"), HumanMessage(content=[{"type": "text", "text": "还有吗"}])]
    chat = to_chat_messages(history)
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert chat[2]["tool_calls"] == [{"type": "function", "id": "c1",
                                      "function": {"name": "search_catalog", "arguments": {"query": "连衣裙"}}}]
    assert chat[3] == {"role": "tool", "content": '[{"id": "P1"}]', "tool_call_id": "c1"}
    assert chat[5]["content"] == "还有吗"


def test_stop_cut_holds_back_a_possible_stop_prefix_and_cuts_at_a_stop():
    assert _stop_cut("你好</to", ["</tool_call>"]) == (len("你好"), False)
    assert _stop_cut("你好</tool_call>x", ["</tool_call>"]) == (len("你好"), True)
    assert _stop_cut("abc", []) == (3, False)


# ------------------------------------------------------------------------------------------ the chat model
def test_bound_tools_give_a_tool_call_from_a_constrained_decision_over_the_models_own_template():
    llm = ScriptedLLM(decisions=[{"name": "search_catalog", "arguments": {"query": "红色连衣裙", "price_max": 300}}])
    model = LocalChatModel(llm=llm).bind_tools(TOOLS)
    out = model.invoke([SystemMessage("你是导购"), HumanMessage("帮我找300元以内的红色连衣裙")])
    assert out.content == ""
    assert [(c["name"], c["args"]) for c in out.tool_calls] == [("search_catalog",
                                                                 {"query": "红色连衣裙", "price_max": 300})]
    assert out.response_metadata["finish_reason"] == "tool_calls"
    assert out.usage_metadata["input_tokens"] == 500
    call = llm.calls[0]
    assert call["prefix"] == TOOL_CALL_PREFIX
    assert [t["function"]["name"] for t in call["tools"]] == ["search_catalog", "similar_products", RESPOND]
    assert call["messages"][0]["role"] == "system" and call["messages"][0]["content"].startswith("你是导购\n\n")
    assert "respond" in call["messages"][0]["content"]  # the guide explains when not to call a tool


def test_respond_falls_through_to_plain_text_without_tools_in_the_prompt():
    llm = ScriptedLLM(decisions=[{"name": RESPOND, "arguments": {}}], texts=[["你好", "！"]])
    out = LocalChatModel(llm=llm).bind_tools(TOOLS).invoke("你好")
    assert out.content == "你好！" and out.tool_calls == []
    assert [c["kind"] for c in llm.calls] == ["json", "text"]
    assert llm.calls[1]["tools"] is None
    assert llm.calls[1]["messages"] == [{"role": "user", "content": "你好"}]  # no guide in the reply prompt


def test_tool_choice_any_or_a_name_removes_respond_and_none_skips_the_decision():
    llm = ScriptedLLM(decisions=[{"name": "similar_products", "arguments": {"product_id": "P1"}},
                                 {"name": "search_catalog", "arguments": {"query": "鞋"}}])
    LocalChatModel(llm=llm).bind_tools(TOOLS, tool_choice="similar_products").invoke("像P1的")
    assert llm.calls[-1]["schema"]["properties"]["name"] == {"const": "similar_products"}
    assert [t["function"]["name"] for t in llm.calls[-1]["tools"]] == ["similar_products"]
    LocalChatModel(llm=llm).bind_tools(TOOLS, tool_choice="any").invoke("鞋")
    names = [b["properties"]["name"]["const"] for b in llm.calls[-1]["schema"]["anyOf"]]
    assert RESPOND not in names and RESPOND not in llm.calls[-1]["messages"][0]["content"]
    LocalChatModel(llm=llm).bind_tools(TOOLS, tool_choice="none").invoke("鞋")
    assert llm.calls[-1]["kind"] == "text"


def test_bind_tools_refuses_a_bad_tool_choice_and_a_tool_named_respond():
    model = LocalChatModel(llm=ScriptedLLM())
    with pytest.raises(ValueError, match="bound tools"):
        model.bind_tools(TOOLS, tool_choice="buy_now")
    with pytest.raises(ValueError, match="may not be named 'respond'"):
        model.bind_tools([{"type": "function", "function": {"name": RESPOND, "parameters": {}}}])


def test_a_failed_decision_falls_back_to_text_when_respond_is_allowed_and_raises_otherwise():
    llm = ScriptedLLM(decisions=[GenerationError("budget"), GenerationError("budget")], texts=[["抱歉"]])
    assert LocalChatModel(llm=llm).bind_tools(TOOLS).invoke("嗯").content == "抱歉"
    with pytest.raises(GenerationError):
        LocalChatModel(llm=llm).bind_tools(TOOLS, tool_choice="any").invoke("嗯")


def test_structured_output_goes_through_a_forced_tool_call():
    class Pick(BaseModel):
        """A product pick."""

        product_id: str
        reason: str

    llm = ScriptedLLM(decisions=[{"name": "Pick", "arguments": {"product_id": "P3", "reason": "便宜"}}])
    out = LocalChatModel(llm=llm).with_structured_output(Pick).invoke("选一个")
    assert out == Pick(product_id="P3", reason="便宜")


class _Tokens(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)


def test_stream_yields_token_chunks_that_add_up_to_invoke_and_reports_them_to_callbacks():
    tokens = ["这", "款", "很", "好", "。"]
    llm = ScriptedLLM(texts=[list(tokens), list(tokens)])
    model = LocalChatModel(llm=llm)
    seen = _Tokens()
    chunks = list(model.stream("介绍一下", config={"callbacks": [seen]}))
    assert [c.content for c in chunks if c.content] == tokens
    assert [t for t in seen.tokens if t] == tokens  # (the framework also reports the closing empty chunk)
    assert "".join(c.content for c in chunks) == model.invoke("介绍一下").content
    assert chunks[-1].usage_metadata["output_tokens"] == len(tokens)


def test_stream_with_tools_yields_one_tool_call_chunk():
    llm = ScriptedLLM(decisions=[{"name": "similar_products", "arguments": {"product_id": "P9"}}])
    chunks = list(LocalChatModel(llm=llm).bind_tools(TOOLS).stream("和P9类似的"))
    merged = chunks[0]
    for c in chunks[1:]:
        merged += c
    assert [(c["name"], c["args"]) for c in merged.tool_calls] == [("similar_products", {"product_id": "P9"})]


def test_async_generation_runs_off_the_event_loop():
    tokens = ["慢", "慢", "来"]

    class SlowLLM(ScriptedLLM):
        def stream(self, *args, **kwargs):
            import time

            for t in super().stream(*args, **kwargs):
                time.sleep(0.05)  # blocking, as the real decode loop is
                yield t

    async def main() -> tuple[str, list[str], int]:
        model = LocalChatModel(llm=SlowLLM(texts=[list(tokens), list(tokens)]))
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        text = (await model.ainvoke("hi")).content
        pieces = [c.content async for c in model.astream("hi") if c.content]
        task.cancel()
        return text, pieces, ticks

    text, pieces, ticks = asyncio.run(main())
    assert text == "慢慢来" and pieces == tokens
    assert ticks >= 10  # the loop kept running while ~0.3 s of blocking generation happened


# ------------------------------------------------------------------------------ LocalLLM on a tiny random model
def _tiny_model_folder(folder: Path) -> Path:
    """A 2-layer random Qwen2 with a byte-level tokenizer (every byte a token, so CJK splits across tokens)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>",
                                  additional_special_tokens=["<|im_start|>"])
    tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         eos_token_id=tok.eos_token_id, bos_token_id=None, pad_token_id=None)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory: pytest.TempPathFactory) -> LocalLLM:
    return LocalLLM(_tiny_model_folder(tmp_path_factory.mktemp("tiny")), threads=1, prefill_chunk=16)


def _scripted(llm: LocalLLM, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """Make `llm` "choose" the bytes of `text`, then end the turn (the forward passes still run)."""
    script = iter([*llm.encode(text), llm.tokenizer.eos_token_id])
    monkeypatch.setattr(llm, "_pick", lambda logits, temperature: next(script))


def _two_turns() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    first = [{"role": "system", "content": "你是导购。" * 8}, {"role": "user", "content": "你好"}]
    return first, [*first, {"role": "assistant", "content": "你好！"}, {"role": "user", "content": "推荐鞋"}]


def test_tiny_prefix_cache_changes_nothing_but_the_prefill(tiny_llm: LocalLLM) -> None:
    first, second = _two_turns()
    tiny_llm.clear_cache()
    cold = list(tiny_llm.stream(second, max_new_tokens=30))
    assert tiny_llm.last_stats.cached_tokens == 0
    tiny_llm.clear_cache()
    tiny_llm.generate(first, max_new_tokens=30)
    warm = list(tiny_llm.stream(second, max_new_tokens=30))
    stats, first_len = tiny_llm.last_stats, len(tiny_llm.encode(tiny_llm.render(first)))
    assert "".join(warm) == "".join(cold)
    assert stats.cached_tokens == first_len // 16 * 16  # whole aligned chunks of the earlier prompt
    assert stats.prefill_tokens == stats.prompt_tokens - stats.cached_tokens < stats.prompt_tokens / 3
    assert all(not p.endswith("\ufffd") for p in warm[:-1])  # only a final flush may end in a broken byte


def test_tiny_lru_keeps_at_most_the_configured_number_of_prefixes(tiny_llm: LocalLLM) -> None:
    tiny_llm.clear_cache()
    for word in ("鞋", "包", "帽", "裙"):
        tiny_llm.generate([{"role": "user", "content": word * 5}], max_new_tokens=2)
    assert len(tiny_llm._entries) == tiny_llm.prefix_cache_size


def test_tiny_stream_never_splits_a_cjk_character(tiny_llm: LocalLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    _scripted(tiny_llm, monkeypatch, "你好！红色")
    assert len(tiny_llm.encode("你")) == 3  # one character, three tokens
    assert list(tiny_llm.stream([{"role": "user", "content": "hi"}])) == ["你", "好", "！", "红", "色"]


def test_tiny_stream_stops_before_a_stop_string(tiny_llm: LocalLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    _scripted(tiny_llm, monkeypatch, "好的</tool_call>后面")
    pieces = list(tiny_llm.stream([{"role": "user", "content": "hi"}], stop=["</tool_call>"]))
    assert "".join(pieces) == "好的"
    _scripted(tiny_llm, monkeypatch, "a</b")  # a stop string's start that never completes is still shown
    assert tiny_llm.generate([{"role": "user", "content": "hi"}], stop=["</tool_call>"]) == "a</b"


DECISION_TOOLS = [
    {"type": "function", "function": {"name": "search_catalog", "parameters": {
        "type": "object", "properties": {"query": {"type": "string", "maxLength": 8},
                                         "price_max": {"type": "integer", "minimum": 0, "maximum": 9999}},
        "required": ["query"]}}},
    {"type": "function", "function": {"name": "similar_products", "parameters": {
        "type": "object", "properties": {"product_id": {"enum": ["P1", "P2"]}}, "required": ["product_id"]}}},
]


@pytest.mark.parametrize("jump_forward", [True, False])
def test_tiny_generate_json_is_schema_valid_even_from_random_weights(tiny_llm: LocalLLM, jump_forward: bool) -> None:
    schema = decision_schema(DECISION_TOOLS, ["search_catalog", "similar_products"], respond=True)
    tiny_llm.jump_forward = jump_forward
    try:
        for text in ("帮我找300元以内的红色连衣裙", "hello", "和P1类似的"):
            tiny_llm.clear_cache()
            cold = tiny_llm.generate_json([{"role": "user", "content": text}], schema, max_new_tokens=96)
            warm = tiny_llm.generate_json([{"role": "user", "content": text}], schema, max_new_tokens=96)
            jsonschema.validate(cold, schema)
            assert warm == cold and tiny_llm.last_stats.cached_tokens > 0
    finally:
        tiny_llm.jump_forward = True


def test_tiny_generate_json_names_the_budget_when_it_runs_out(tiny_llm: LocalLLM) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string", "minLength": 50}}, "required": ["a"]}
    with pytest.raises(GenerationError, match="max_new_tokens=8"):
        tiny_llm.generate_json([{"role": "user", "content": "x"}], schema, max_new_tokens=8)


def test_tiny_concurrent_generations_wait_for_each_other(tiny_llm: LocalLLM) -> None:
    from concurrent.futures import ThreadPoolExecutor

    chats = [[{"role": "user", "content": w * 3}] for w in ("鞋", "包", "帽", "裙")]
    expected = [tiny_llm.generate(c, max_new_tokens=12) for c in chats]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(lambda c: tiny_llm.generate(c, max_new_tokens=12), chats)) == expected


# ------------------------------------------------------------------------------------------ backends
def test_make_chat_model_local_is_lazy_and_openai_needs_a_base_url():
    local = make_chat_model("local", threads=1)
    assert isinstance(local, LocalChatModel) and local.llm is None  # nothing loaded until first use
    with pytest.raises(ValueError, match="needs base_url"):
        make_chat_model("openai")
    with pytest.raises(ValueError, match="unknown chat model kind 'gpt'.*local"):
        make_chat_model("gpt")
    with pytest.raises(ValueError, match="takes no base_url"):
        make_chat_model("local", base_url="http://127.0.0.1:8000/v1")
    remote = make_chat_model("openai", base_url="http://127.0.0.1:8000/v1", model="qwen2.5", timeout=5)
    assert isinstance(remote, LocalChatModel) and remote.model_name == "qwen2.5"
    assert remote.llm.base_url == "http://127.0.0.1:8000/v1" and remote.llm.timeout == 5
    assert "Authorization" not in remote.llm._client.headers  # no key set: none sent, none made up


# ------------------------------------------------------------------------------------------ standard suite
try:
    from langchain_tests.unit_tests import ChatModelUnitTests
except ImportError:  # optional test dependency
    ChatModelUnitTests = None

if ChatModelUnitTests is not None:

    class TestLocalChatModelStandard(ChatModelUnitTests):
        """LangChain's standard unit tests for chat models, over the scripted LLM."""

        @property
        def chat_model_class(self) -> type[LocalChatModel]:
            return LocalChatModel

        @property
        def chat_model_params(self) -> dict[str, Any]:
            return {"llm": ScriptedLLM()}
