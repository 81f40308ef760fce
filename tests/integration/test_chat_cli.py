"""`daogou chat --json` end to end: real store, real models, the DESIGN.md contract, one process for a dialogue."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.integration.helpers import DAOGOU, _env

pytestmark = pytest.mark.integration


def _chat(home, lines: list[str], *extra: str) -> list[dict]:
    r = subprocess.run(DAOGOU + ["chat", "--json", *extra], input="\n".join(lines) + "\n", env=_env(home),
                       capture_output=True, text=True, timeout=900, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def test_chat_json_contract_and_constraints(demo_home, demo_catalog):
    image = demo_catalog.parent / "images" / "P1024.png"
    turns = _chat(demo_home, ["你好", "红色连衣裙 300元以内", "便宜点的", "第一个防水吗？",
                              json.dumps({"text": "找类似的", "image": str(image)}), "not json {"])
    assert len(turns) == 6
    for t in turns[:5]:
        assert set(t) >= {"text", "products", "tool_calls", "timings_ms"}
    greet, search, cheaper, answer, by_image, bad = turns
    assert greet["tool_calls"] == [] and greet["products"] == []
    assert search["tool_calls"][0]["name"] == "search_catalog"
    assert search["products"] and all(p["price"] <= 300 and "红" in p["attributes"]["颜色"] for p in search["products"])
    top = [p["price"] for p in search["products"]]
    assert cheaper["products"] and all(p["price"] < max(top) for p in cheaper["products"])
    assert answer["tool_calls"][0]["name"] == "answer_about_product"
    assert answer["tool_calls"][0]["args"]["product_id"] == cheaper["products"][0]["id"]
    assert by_image["tool_calls"][0]["args"].get("image") and by_image["products"][0]["id"] == "P1024"
    assert "error" in bad or bad["text"]


def test_chat_without_llm_is_fast_and_grounded(demo_home):
    turns = _chat(demo_home, ["wireless headphones under 500", "compare the first and the second"], "--no-llm")
    assert turns[0]["products"] and all(p["price"] <= 500 for p in turns[0]["products"])
    assert turns[1]["tool_calls"][0]["name"] == "compare_products"
    assert turns[0]["text"].startswith("Here")
    assert sys.executable
