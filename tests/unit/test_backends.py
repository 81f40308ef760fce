"""Choosing the chat engine by settings, and the OpenAI-compatible writer's protocol handling (over an httpx mock
transport; the real server is in tests/integration/test_openai_server_real.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from daogou.llm import backends
from daogou.llm.generation import GenerationError, GenerationStats
from daogou.llm.openai_writer import OpenAIWriter
from daogou.settings import Settings


# ------------------------------------------------------------------------------------------------ settings
@pytest.mark.parametrize(("raw", "backend"), [("llama", "llama"), ("LOCAL", "llama"), ("llama.cpp", "llama"),
                                              ("transformers", "transformers"), ("openai", "openai"),
                                              ("none", "none")])
def test_daogou_llm_selects_a_backend_and_keeps_the_old_name(monkeypatch: pytest.MonkeyPatch, raw: str,
                                                             backend: str) -> None:
    monkeypatch.setenv("DAOGOU_LLM", raw)
    assert Settings.from_env().llm == backend


def test_the_default_backend_is_the_embedded_engine_on_the_0_5b(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DAOGOU_LLM", "DAOGOU_LLM_SIZE", "DAOGOU_LLM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    s = Settings.from_env()
    assert (s.llm, s.llm_size, s.llm_threads, s.llm_slots, s.llm_api_key) == ("llama", "0.5b", None, 1, None)


@pytest.mark.parametrize(("var", "value", "match"), [
    ("DAOGOU_LLM", "gpt4", r"DAOGOU_LLM='gpt4' is not one of llama, transformers, openai, none"),
    ("DAOGOU_LLM_SIZE", "7b", r"DAOGOU_LLM_SIZE='7b' is not one of 0.5b, 1.5b"),
    ("DAOGOU_LLM_SLOTS", "0", r"DAOGOU_LLM_SLOTS=0 must be at least 1"),
    ("DAOGOU_LLM_THREADS", "two", r"DAOGOU_LLM_THREADS='two' is not an integer"),
    ("DAOGOU_LLM_CTX", "100", r"DAOGOU_LLM_CTX=100 must be at least 256"),
    ("DAOGOU_LLM_TIMEOUT", "soon", r"DAOGOU_LLM_TIMEOUT='soon' is not a number"),
    ("DAOGOU_LLM_TIMEOUT", "0", r"DAOGOU_LLM_TIMEOUT=0.0 must be a positive number of seconds"),
])
def test_bad_llm_settings_name_the_value_and_the_valid_ones(monkeypatch: pytest.MonkeyPatch, var: str, value: str,
                                                            match: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError, match=match):
        Settings.from_env()


def test_llm_sizes_and_server_settings_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAOGOU_LLM_SIZE", "1.5B")
    monkeypatch.setenv("DAOGOU_LLM_API_KEY", "k-123")
    monkeypatch.setenv("DAOGOU_LLM_TIMEOUT", "2.5")
    monkeypatch.setenv("DAOGOU_LLM_SLOTS", "2")
    s = Settings.from_env()
    assert (s.llm_size, s.llm_api_key, s.llm_timeout, s.llm_slots) == ("1.5b", "k-123", 2.5, 2)


# ------------------------------------------------------------------------------------------------ backends
def test_make_writer_none_and_openai(tmp_path: Path) -> None:
    assert backends.make_writer(Settings(home=tmp_path, llm="none")) is None
    with pytest.raises(ValueError, match="DAOGOU_LLM=openai needs DAOGOU_LLM_BASE_URL"):
        backends.make_writer(Settings(home=tmp_path, llm="openai"))
    w = backends.make_writer(Settings(home=tmp_path, llm="openai", llm_base_url="http://127.0.0.1:9/v1",
                                      llm_api_key="k", llm_timeout=3))
    assert isinstance(w, OpenAIWriter) and w.timeout == 3 and w._client.headers["Authorization"] == "Bearer k"
    assert backends.make_copy_writer(Settings(home=tmp_path, llm="openai", copy_adapter=tmp_path)) is None


def test_llama_backend_refuses_a_transformers_folder_or_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"DAOGOU_LLM_PATH=.* is a folder .*set DAOGOU_LLM=transformers"):
        backends.make_writer(Settings(home=tmp_path, llm_path=tmp_path))
    with pytest.raises(FileNotFoundError, match=r"DAOGOU_LLM_PATH=.*nowhere\.gguf does not exist"):
        backends.make_writer(Settings(home=tmp_path, llm_path=tmp_path / "nowhere.gguf"))


# --------------------------------------------------------------------------------------- the OpenAI writer
def _sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"


class Recorder:
    """An httpx mock transport: records requests, answers with the handler's response."""

    def __init__(self, handler: Any) -> None:
        self.requests: list[httpx.Request] = []
        self.handler = handler

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


def _writer(handler: Any, **kw: Any) -> tuple[OpenAIWriter, Recorder]:
    rec = Recorder(handler)
    return OpenAIWriter("http://llm.test/v1", model="qwen", transport=httpx.MockTransport(rec), **kw), rec


def test_stream_reads_server_sent_events_and_llama_timings() -> None:
    body = _sse({"choices": [{"delta": {"role": "assistant"}}]}, {"choices": [{"delta": {"content": "你好"}}]},
                {"choices": [{"delta": {"content": "！"}, "finish_reason": "stop"}],
                 "timings": {"cache_n": 20, "prompt_n": 4, "prompt_ms": 40.0, "predicted_n": 2}})
    w, rec = _writer(lambda r: httpx.Response(200, content=body, headers={"content-type": "text/event-stream"}))
    stats = GenerationStats()
    tools = [{"type": "function", "function": {"name": "search"}}]
    assert list(w.stream([{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}], tools=tools,
                         max_new_tokens=7, stop=["。"], stats=stats)) == ["你好", "！"]
    assert (stats.prompt_tokens, stats.cached_tokens, stats.decode_tokens) == (24, 20, 2) and w.last_stats is stats
    sent = json.loads(rec.requests[0].content)
    assert rec.requests[0].url == "http://llm.test/v1/chat/completions"
    assert "authorization" not in rec.requests[0].headers  # no key configured: none sent, none made up
    assert sent["stream"] is True and sent["max_tokens"] == 7 and sent["stop"] == ["。"] and sent["model"] == "qwen"
    assert sent["messages"][0]["content"].startswith("S\n\nTools:\n") and '"search"' in sent["messages"][0]["content"]


def test_generate_json_sends_the_schema_and_checks_the_answer() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "maximum": 9}}, "required": ["n"]}
    answers = iter(['{"n": 3}', '{"n": 30}', '{"n": ', '{"n": 3'])
    finish = iter(["stop", "stop", "stop", "length"])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"choices": [{"message": {"content": next(answers)},
                                                      "finish_reason": next(finish)}],
                                         "usage": {"prompt_tokens": 11, "completion_tokens": 4}})

    w, rec = _writer(handler, api_key="secret")
    assert w.generate_json([{"role": "user", "content": "x"}], schema) == {"n": 3}
    sent = json.loads(rec.requests[0].content)
    closed = {**schema, "additionalProperties": False}  # strict: objects take only the keys they list
    assert sent["response_format"] == {"type": "json_schema",
                                       "json_schema": {"name": "reply", "schema": closed, "strict": True}}
    assert rec.requests[0].headers["authorization"] == "Bearer secret"
    assert w.last_stats is not None and w.last_stats.prompt_tokens == 11
    with pytest.raises(GenerationError, match="does not match the schema: 30 is greater than the maximum of 9"):
        w.generate_json([{"role": "user", "content": "x"}], schema)
    with pytest.raises(GenerationError, match="does not parse"):
        w.generate_json([{"role": "user", "content": "x"}], schema)
    with pytest.raises(GenerationError, match="not complete after max_new_tokens=128"):
        w.generate_json([{"role": "user", "content": "x"}], schema)


@pytest.mark.parametrize(("status", "match"), [(401, r"refused the request \(HTTP 401.*set DAOGOU_LLM_API_KEY"),
                                               (500, r"answered HTTP 500: overloaded")])
def test_an_http_error_names_the_fix(status: int, match: str) -> None:
    w, _ = _writer(lambda r: httpx.Response(status, text="overloaded"))
    with pytest.raises(GenerationError, match=match):
        w.generate([{"role": "user", "content": "x"}])


def test_a_timeout_or_unreachable_server_names_the_setting() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    w, _ = _writer(slow, timeout=0.5)
    with pytest.raises(GenerationError, match=r"no answer from http://llm.test/v1 within 0.5 s.*DAOGOU_LLM_TIMEOUT"):
        w.generate([{"role": "user", "content": "x"}])

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    w, _ = _writer(refused)
    with pytest.raises(GenerationError, match=r"cannot talk to .*check DAOGOU_LLM_BASE_URL"):
        w.generate([{"role": "user", "content": "x"}])


def test_a_bad_base_url_or_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="base_url='llm.test/v1' must be an http"):
        OpenAIWriter("llm.test/v1")
    with pytest.raises(ValueError, match="timeout=0 must be a positive"):
        OpenAIWriter("http://llm.test/v1", timeout=0)


# ---------------------------------------------------------------------------------- the llama.cpp server face
def test_the_server_refuses_a_public_bind_without_a_key(capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from daogou.llm import server

    monkeypatch.delenv("DAOGOU_LLM_SERVER_KEY", raising=False)
    with pytest.raises(SystemExit):
        server.main(["--host", "0.0.0.0", "--port", "8080"])
    assert "--host 0.0.0.0 is not a loopback address: set --api-key" in capsys.readouterr().err
    assert server._loopback("127.0.0.1") and server._loopback("::1") and server._loopback("localhost")
    assert not server._loopback("0.0.0.0") and not server._loopback("shop.example")
