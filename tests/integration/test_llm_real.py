"""The real bundled 0.5B chat model: prefix KV cache equivalence, constrained JSON, tool calls and streaming.

The model loads once per session from the `models_home` fixture (DAOGOU_HOME when set; the bf16 conversion
runs once, ~75 s). Every assertion uses greedy decoding, so the outputs are deterministic.
"""

from __future__ import annotations

import jsonschema
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langchain_core.utils.function_calling import convert_to_openai_tool

from daogou.llm.chat_model import LocalChatModel, to_chat_messages
from daogou.llm.transformers_engine import LocalLLM
from daogou.settings import Settings

pytestmark = pytest.mark.integration

SYSTEM = "你是本店的导购助手，帮顾客找到合适的商品。回答简短，使用顾客的语言。"


@pytest.fixture(scope="session")
def llm(models_home) -> LocalLLM:
    return LocalLLM(threads=Settings(home=models_home).threads, settings=Settings(home=models_home))


@tool
def search_catalog(query: str, price_min: float | None = None, price_max: float | None = None,
                   color: str | None = None) -> str:
    """Find products by description and hard filters. 按描述和条件找商品。

    Args:
        query: what the shopper wants, in their words / 商品描述
        price_min: lowest price in yuan, only if said / 最低价
        price_max: highest price in yuan, only if said / 最高价
        color: colour, only if said / 颜色
    """
    return "[]"


@tool
def similar_products(product_id: str) -> str:
    """Products like one already shown (相似款). 找和某商品相似的商品。

    Args:
        product_id: id of a product shown, e.g. P1001 / 商品编号
    """
    return "[]"


@tool
def product_details(product_ids: list[str]) -> str:
    """All catalog facts of products shown. 查看商品详情。

    Args:
        product_ids: ids of products shown / 商品编号
    """
    return "[]"


TOOLS = [search_catalog, similar_products, product_details]


def _turns(*user: str) -> list[dict[str, str]]:
    chat = [{"role": "system", "content": SYSTEM}]
    for i, text in enumerate(user):
        if i:
            chat.append({"role": "assistant", "content": "好的。"})
        chat.append({"role": "user", "content": text})
    return chat


def test_prefix_cache_gives_identical_output_and_prefills_only_the_new_suffix(llm: LocalLLM) -> None:
    first, second = _turns("你好"), _turns("你好", "有适合跑步的鞋吗？推荐一下")
    tools = [convert_to_openai_tool(t) for t in TOOLS]  # a realistic long prefix: system prompt + tool schemas
    llm.clear_cache()
    cold = llm.generate(second, tools=tools, max_new_tokens=24)
    assert llm.last_stats.cached_tokens == 0
    llm.clear_cache()
    llm.generate(first, tools=tools, max_new_tokens=24)
    first_len = llm.last_stats.prompt_tokens
    warm = llm.generate(second, tools=tools, max_new_tokens=24)
    stats = llm.last_stats
    assert warm == cold and len(warm) > 0
    # reused: the earlier prompt down to a chunk boundary; prefilled: the new turn plus less than one chunk
    assert stats.cached_tokens == first_len // llm.prefill_chunk * llm.prefill_chunk > 0, stats
    assert stats.prefill_tokens < stats.prompt_tokens - first_len + llm.prefill_chunk, stats


def test_generate_json_with_and_without_cache_is_identical(llm: LocalLLM) -> None:
    schema = {"type": "object", "properties": {"product": {"type": "string"}, "max_price": {"type": "number"}},
              "required": ["product"]}
    chat = _turns("帮我找500元以内的运动鞋，返回JSON")
    tools = [convert_to_openai_tool(t) for t in TOOLS]  # long enough to hold whole reusable chunks
    llm.clear_cache()
    cold = llm.generate_json(chat, schema, tools=tools)
    warm = llm.generate_json(chat, schema, tools=tools)
    assert llm.last_stats.cached_tokens > 0
    assert warm == cold


REQUESTS = ["帮我找300元以内的红色连衣裙", "I need running shoes under 500 yuan, size 42",
            "有没有适合送给妈妈的礼物？预算两百左右", "show me black leather handbags", "P1023有没有M码？"]
REQUEST_SCHEMA = {
    "type": "object",
    "properties": {
        "intent": {"enum": ["search", "details", "chat"]},
        "query": {"type": "string", "maxLength": 40},
        "max_price": {"type": "number", "minimum": 0},
        "color": {"type": "string", "maxLength": 10},
        "size": {"type": "string", "maxLength": 6},
    },
    "required": ["intent", "query"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("request_text", REQUESTS)
def test_generate_json_is_always_schema_valid(llm: LocalLLM, request_text: str) -> None:
    chat = [{"role": "system", "content": "Extract the shopping request as JSON. 提取购物需求为JSON。"},
            {"role": "user", "content": request_text}]
    value = llm.generate_json(chat, REQUEST_SCHEMA, max_new_tokens=96)
    jsonschema.validate(value, REQUEST_SCHEMA)


@pytest.fixture(scope="session")
def chat_model(llm: LocalLLM) -> LocalChatModel:
    return LocalChatModel(llm=llm, max_tokens=48)


def test_tool_call_for_a_priced_search(chat_model: LocalChatModel) -> None:
    out = chat_model.bind_tools(TOOLS).invoke([SystemMessage(SYSTEM), HumanMessage("帮我找300元以内的红色连衣裙")])
    assert [c["name"] for c in out.tool_calls] == ["search_catalog"], out
    args = out.tool_calls[0]["args"]
    assert args.get("price_max") == 300, args
    assert "连衣裙" in args["query"], args


def test_no_tool_call_for_a_greeting(chat_model: LocalChatModel) -> None:
    out = chat_model.bind_tools(TOOLS).invoke([SystemMessage(SYSTEM), HumanMessage("hello")])
    assert out.tool_calls == [], out.tool_calls
    assert out.content.strip()


def test_tool_results_in_history_render_as_tool_responses(chat_model: LocalChatModel, llm: LocalLLM) -> None:
    history = [SystemMessage(SYSTEM), HumanMessage("找连衣裙"),
               AIMessage(content="", tool_calls=[{"name": "search_catalog", "args": {"query": "连衣裙"}, "id": "c1"}]),
               ToolMessage(content='[{"id": "P1001", "title": "红色连衣裙", "price": 259}]', tool_call_id="c1")]
    prompt = llm.render(to_chat_messages(history))
    assert '<tool_call>\n{"name": "search_catalog", "arguments": {"query": "连衣裙"}}\n</tool_call>' in prompt
    assert '<|im_start|>user\n<tool_response>\n[{"id": "P1001"' in prompt
    reply = chat_model.invoke(history)  # no tools bound: a text answer over the tool result
    assert reply.content.strip() and not reply.tool_calls


def test_stream_chunks_add_up_to_the_invoke_output(chat_model: LocalChatModel) -> None:
    messages = [SystemMessage(SYSTEM), HumanMessage("用一句话介绍一下你自己")]
    chunks = [c.content for c in chat_model.stream(messages)]
    assert len([c for c in chunks if c]) >= 3
    assert "".join(chunks) == chat_model.invoke(messages).content


def test_model_reading_is_schema_valid_and_checked(llm: LocalLLM) -> None:
    from daogou.agent.model_reading import ACTS, ModelReader
    from daogou.agent.policy import choose_tool
    from daogou.agent.reading import combine, read_rules
    from daogou.agent.state import DialogueState, ShownProduct
    from daogou.tools.vocabulary import Vocabulary, title_terms
    from tests.fakes.catalog import VocabularyIndex

    titles = {"P1119": "灰色轻薄手机 256GB / Grey slim phone 256GB", "P1105": "黑色5G手机 256GB / Black 5G phone 256GB"}
    index = VocabularyIndex(Vocabulary(title_terms=title_terms(titles.values()), kinds=("手机", "耳机")),
                            ids=list(titles), titles=titles)
    reader = ModelReader(llm, index)
    state = DialogueState(query="手机", shown=list(titles), catalog_seen={
        pid: ShownProduct(id=pid, title=t, price=1188) for pid, t in titles.items()})
    for text in ("嗯……这个嘛", "第二个防水吗？", "帮我找300元以内的红色连衣裙"):
        model = reader(text, state)
        assert model is None or (model.act in ACTS and all(1 <= n <= 2 for n in model.refs))
        reading = combine(read_rules(text, state, index), model, text, state, index)
        call = choose_tool(reading, state, False)
        for key in ("price_max", "price_min"):  # a price in the call is one the shopper typed
            assert key not in call.args or call.args[key] == 300
