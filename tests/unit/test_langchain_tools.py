"""The LangChain wrappers: schemas the model is constrained to, text + artifact results, errors as text."""

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from daogou.tools.catalog_search import CatalogSearch
from daogou.tools.details import AnswerResult, ComparisonResult
from daogou.tools.langchain_tools import TOOL_NAMES, ToolContext, build_tools
from daogou.tools.recommend import Interaction
from tests.fakes.catalog import SHOP_ROWS, load_catalog


@pytest.fixture
def tools(fake_store, settings, tmp_path):
    index = load_catalog(fake_store, settings, tmp_path, [dict(r) for r in SHOP_ROWS])
    history = [Interaction("S1", "bought"), Interaction("S2", "liked")]
    ctx = ToolContext(index=index, generate=lambda prompt: "标题：红色连衣裙\n卖点：雪纺\n描述：售价59元。好看。",
                      interactions=lambda: history, k=3)
    return {t.name: t for t in build_tools(ctx)}


def call(tool, **args):
    """Invoke as the agent does (a tool call), returning the ToolMessage with its artifact."""
    msg = tool.invoke({"type": "tool_call", "id": "call-1", "name": tool.name, "args": args})
    assert isinstance(msg, ToolMessage)
    return msg


def test_all_tools_and_their_required_arguments(tools):
    assert tuple(tools) == TOOL_NAMES
    required = {n: convert_to_openai_tool(t)["function"]["parameters"].get("required", []) for n, t in tools.items()}
    assert required == {"search_catalog": [], "similar_products": ["product_id"], "recommend_for_user": [],
                        "product_details": ["product_ids"], "compare_products": ["product_ids"],
                        "answer_about_product": ["question"], "write_copy": ["product_id"]}
    compare = convert_to_openai_tool(tools["compare_products"])["function"]["parameters"]["properties"]
    assert compare["product_ids"]["minItems"] == 2 and compare["product_ids"]["maxItems"] == 5
    assert all(t.description for t in tools.values())


def test_search_catalog_maps_filters_and_returns_cards_as_artifact(tools):
    msg = call(tools["search_catalog"], query="连衣裙", price_max=300, color="red", category="clothes")
    assert msg.status == "success" and isinstance(msg.artifact, CatalogSearch)
    assert [c.id for c in msg.artifact.cards] == ["D1", "D2"]
    assert msg.artifact.result.filters.colors == ("红色",) and msg.artifact.result.filters.categories == ("服装",)
    assert msg.content.splitlines()[1].startswith("D1 红色碎花连衣裙 | 199元 | 云裳")


def test_search_brand_matches_case_insensitively(tools):
    msg = call(tools["search_catalog"], query="跑鞋", brand="nike")
    assert msg.artifact.result.filters.brands == ("Nike",)


@pytest.mark.parametrize(("args", "expected"), [
    ({"query": "裙", "color": "plaid"}, "Unknown color 'plaid'. Valid values: 红色"),
    ({"query": "裙", "category": "cars"}, "Unknown category 'cars'. Valid values: 家居, 数码, 服装, 鞋靴"),
    ({"query": "裙", "brand": "Gucci"}, "Unknown brand 'Gucci'"),
    ({"query": "裙", "price_min": 500, "price_max": 100}, "price_min 500.0 is above price_max 100.0"),
])
def test_bad_filter_values_come_back_as_text(tools, args, expected):
    msg = call(tools["search_catalog"], **args)
    assert msg.status == "error" and expected in msg.content


def test_tool_errors_are_returned_not_raised(tools):
    msg = call(tools["similar_products"], product_id="P9999")
    assert msg.status == "error" and msg.content.startswith("Unknown product id 'P9999'. Use an id from")
    assert tools["answer_about_product"].invoke({"product_id": "P9999", "question": "多少钱"}).startswith("Unknown")


def test_invalid_arguments_are_explained(tools):
    msg = call(tools["compare_products"], product_ids=["D1"])
    assert msg.status == "error" and "Invalid arguments (product_ids: List should have at least 2 items" in msg.content
    msg = call(tools["write_copy"], product_id="D1", style="funny")
    assert msg.status == "error" and "style" in msg.content


def test_similar_and_recommend_use_the_context(tools):
    sim = call(tools["similar_products"], product_id="D1", price_max=300)
    assert "D1" not in [c.id for c in sim.artifact.cards] and all(c.price <= 300 for c in sim.artifact.cards)
    rec = call(tools["recommend_for_user"])
    assert "S1" not in [c.id for c in rec.artifact.cards] and len(rec.artifact.cards) == 3
    assert "for you from 2 interactions" in rec.content


def test_details_compare_answer_and_copy(tools):
    details = call(tools["product_details"], product_ids=["D1", "NOPE"])
    assert "D1:" in details.content and "材质: 雪纺" in details.content and "NOPE" in details.content
    cmp = call(tools["compare_products"], product_ids=["D1", "D3"])
    assert isinstance(cmp.artifact, ComparisonResult) and "材质: 雪纺 | 真丝" in cmp.content
    assert "cheapest: D1" in cmp.content
    ans = call(tools["answer_about_product"], product_id="D4", question="有M码吗")
    assert isinstance(ans.artifact, AnswerResult) and not ans.artifact.found and "found: no" in ans.content
    copy = call(tools["write_copy"], product_id="D1")
    assert copy.artifact.ungrounded == ["59元"] and "描述：好看。" in copy.content
