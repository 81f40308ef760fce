"""The OpenAI-compatible backend against a real llama.cpp server process (`python -m daogou.llm.server`).

The server is llama.cpp's own HTTP server over the bundled 0.5B, in a subprocess on a free local port with a key.
`OpenAIWriter` streams from it, reads a turn under its `response_format` json_schema constraint, is refused
without the key, gives up at its timeout, and a client that stops reading ends the request on the server.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jsonschema
import pytest

from daogou.llm.generation import GenerationError, GenerationStats
from daogou.llm.openai_writer import OpenAIWriter
from daogou.llm.provision import llm_gguf_path
from daogou.settings import Settings

pytestmark = pytest.mark.integration

KEY = "test-key-" + os.urandom(8).hex()
READING = {"type": "object", "properties": {
    "intent": {"enum": ["search", "similar", "details", "recommend", "chat"]},
    "max_price": {"type": "integer", "minimum": 0, "maximum": 100000},
    "color": {"type": "string", "maxLength": 8}},
    "required": ["intent"], "additionalProperties": False}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(models_home: Path) -> Iterator[str]:
    llm_gguf_path(Settings(home=models_home))  # assembled and verified before the server starts
    port = _free_port()
    env = {**os.environ, "DAOGOU_HOME": str(models_home), "DAOGOU_LLM_SLOTS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "daogou.llm.server", "--port", str(port), "--api-key", KEY],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else "server died"
            try:
                if httpx.get(base + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("the llama.cpp server did not become healthy in 180 s")
        yield base + "/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _predicted(base_url: str) -> float:
    text = httpx.get(base_url.removesuffix("/v1") + "/metrics", headers={"Authorization": f"Bearer {KEY}"},
                     timeout=30).text
    return float(re.search(r"^llamacpp:tokens_predicted_total (\S+)$", text, re.M).group(1))


def test_streaming_from_the_server(server: str) -> None:
    writer = OpenAIWriter(server, model="qwen", api_key=KEY, timeout=120)
    chat = [{"role": "system", "content": "你是导购助手。"}, {"role": "user", "content": "推荐一双跑步鞋，说两句话。"}]
    stats = GenerationStats()
    pieces = list(writer.stream(chat, max_new_tokens=32, stats=stats))
    assert len(pieces) > 3 and all(pieces) and not any("\ufffd" in p for p in pieces)
    assert stats.decode_tokens >= len(pieces) - 1  # a piece per token, bar a character held back
    assert stats.prompt_tokens > 10 and writer.last_stats is stats
    assert "".join(pieces) == writer.generate(chat, max_new_tokens=32)  # greedy: the same words again
    assert writer.last_stats.cached_tokens > 0  # the server reused the prefix of the previous request


def test_a_constrained_reading_from_the_server(server: str) -> None:
    writer = OpenAIWriter(server, model="qwen", api_key=KEY, timeout=120)
    for text in ("帮我找300元以内的红色连衣裙", "Show me running shoes under 500", "你好"):
        value = writer.generate_json([{"role": "system", "content": "Read the shopper's message into JSON."},
                                      {"role": "user", "content": text}], READING, max_new_tokens=64)
        jsonschema.validate(value, READING)


def test_without_the_key_the_server_refuses_and_the_error_names_the_setting(server: str) -> None:
    for key in (None, "wrong"):
        with pytest.raises(GenerationError, match=r"HTTP 401.*set DAOGOU_LLM_API_KEY"):
            OpenAIWriter(server, api_key=key).generate([{"role": "user", "content": "hi"}], max_new_tokens=2)


def test_the_request_timeout_is_kept(server: str) -> None:
    writer = OpenAIWriter(server, api_key=KEY, timeout=0.001)
    with pytest.raises(GenerationError, match=r"within 0.001 s.*DAOGOU_LLM_TIMEOUT"):
        writer.generate([{"role": "user", "content": "写一篇长文章"}], max_new_tokens=200)


def test_a_client_that_stops_reading_ends_the_request_on_the_server(server: str) -> None:
    writer = OpenAIWriter(server, api_key=KEY, timeout=120)
    before = _predicted(server)
    gen = writer.stream([{"role": "user", "content": "写一篇一千字的文章，介绍跑步鞋的历史。"}], max_new_tokens=400)
    assert [next(gen) for _ in range(3)]
    gen.close()  # the connection is closed: llama.cpp sees the client go and cancels
    # the next request on the one slot is served, and the abandoned one stopped far from its 400 tokens
    assert writer.generate([{"role": "user", "content": "你好"}], max_new_tokens=4)
    assert _predicted(server) - before < 100
