"""The logic around llama.cpp, on a scripted stand-in for the binding's server: streaming, cancel, stats, errors,
constrained JSON checks, LoRA scales, the locked HTTP listener's settings, the shared-engine registry, the GGUF
header reader and the chat template. The real engine is tested in tests/integration/test_llama_engine_real.py.
"""

from __future__ import annotations

import json
import stat
import struct
import threading
from pathlib import Path
from typing import Any

import pytest

from daogou.llm import llama_engine
from daogou.llm.chat_template import ChatTemplate
from daogou.llm.generation import GenerationError, GenerationStats, strict_schema
from daogou.llm.gguf_file import gguf_header, gguf_metadata
from daogou.llm.llama_engine import AdapterWriter, LlamaEngine, available_cores, shared_engine
from daogou.model_files import ModelError
from tests.fakes.gguf import write_gguf

TIMINGS = {"cache_n": 30, "prompt_n": 5, "prompt_ms": 50.0, "predicted_n": 3, "predicted_ms": 60.0}


class FakeServer:
    """Stands in for `xllamacpp.Server`: records params and bodies, streams scripted chunks through the callback."""

    instances: list[FakeServer] = []
    script: list[dict[str, Any]] = []
    hold: threading.Event | None = None  # when set up: the second chunk waits for it (a slow decoder)

    def __init__(self, params: Any) -> None:
        self.params, self.bodies, self.sent, self.stopped_by_callback = params, [], 0, False
        self.finished = threading.Event()
        self.listening_address = "unix://" + params.hostnames[0]
        FakeServer.instances.append(self)

    def handle_completions(self, body: dict[str, Any], callback: Any) -> None:
        self.bodies.append(body)
        try:
            for i, chunk in enumerate(self.script):
                if i == 1 and self.hold is not None:
                    self.hold.wait()
                self.sent += 1
                if callback(chunk):
                    self.stopped_by_callback = True  # llama.cpp cancels the task here
                    return
        finally:
            self.finished.set()

    def handle_metrics(self) -> str:
        return "# HELP x\nllamacpp:tokens_predicted_total 12\nllamacpp:requests_processing 0\n"


def _pieces(*texts: str, finish: str = "stop", timings: dict[str, Any] | None = TIMINGS) -> list[dict[str, Any]]:
    chunks: list[dict[str, Any]] = [{"choices": [{"text": t, "finish_reason": None}]} for t in texts]
    last: dict[str, Any] = {"choices": [{"text": "", "finish_reason": finish}]}
    if timings is not None:
        last["timings"] = timings
    return [*chunks, last]


class FakeParams:
    """The attributes of xllamacpp.CommonParams the engine sets."""

    def __init__(self) -> None:
        self.model = type("M", (), {"path": ""})()
        self.cpuparams = type("C", (), {"n_threads": 0})()
        self.cpuparams_batch = type("C", (), {"n_threads": 0})()
        self.hostnames, self.api_keys, self.lora_adapters = ["127.0.0.1"], [], []
        self.ui = self.endpoint_slots = self.endpoint_props = True


class FakeXlc:
    CommonParams = FakeParams
    Server = FakeServer

    @staticmethod
    def CommonAdapterLoraInfo(path: str, scale: float) -> tuple[str, float]:  # noqa: N802 - the binding's name
        return (path, scale)


@pytest.fixture()
def model(tmp_path: Path) -> Path:
    return write_gguf(tmp_path / "m.gguf")


@pytest.fixture()
def engine(model: Path, monkeypatch: pytest.MonkeyPatch) -> LlamaEngine:
    import sys

    monkeypatch.setitem(sys.modules, "xllamacpp", FakeXlc)
    FakeServer.instances.clear()
    FakeServer.script = _pieces("你好", "，", "欢迎")
    return LlamaEngine(model, threads=2)


def _adapters(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name in ("copy", "tone"):
        (tmp_path / f"{name}.gguf").write_bytes(b"GGUF")
        out[name] = tmp_path / f"{name}.gguf"
    return out


# --------------------------------------------------------------------------------------------- streaming
def test_stream_yields_pieces_in_order_and_fills_stats(engine: LlamaEngine) -> None:
    stats = GenerationStats()
    assert list(engine.stream([{"role": "user", "content": "hi"}], stats=stats)) == ["你好", "，", "欢迎"]
    assert (stats.prompt_tokens, stats.cached_tokens, stats.prefill_tokens, stats.decode_tokens) == (35, 30, 5, 3)
    assert stats.prefill_s == pytest.approx(0.05) and stats.ttft_s > 0 and stats.total_s >= stats.ttft_s
    assert engine.last_stats is stats
    body = FakeServer.instances[-1].bodies[-1]
    assert body["prompt"] == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert body["stream"] is True and body["cache_prompt"] is True and body["temperature"] == 0.0
    assert "lora" not in body and "json_schema" not in body


def test_closing_the_stream_early_makes_the_next_callback_stop_the_request(
    engine: LlamaEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llama_engine, "_CANCEL_WAIT_S", 0.05)
    monkeypatch.setattr(FakeServer, "hold", threading.Event())
    FakeServer.script = _pieces(*"一二三四五六七八九十")
    gen = engine.stream([{"role": "user", "content": "写长文"}], max_new_tokens=300)
    assert next(gen) == "一"
    gen.close()  # the decoder is still busy with the second token
    server = FakeServer.instances[-1]
    FakeServer.hold.set()
    assert server.finished.wait(10)
    assert server.stopped_by_callback and server.sent == 2  # the first callback after the close ended it
    assert engine.last_stats is not None and engine.last_stats.decode_tokens == 1


def test_tools_and_assistant_prefix_go_through_the_models_template(engine: LlamaEngine) -> None:
    tools = [{"type": "function", "function": {"name": "find<x>", "parameters": {}}}]
    engine.generate([{"role": "user", "content": "hi"}], tools=tools, assistant_prefix="<tool_call>\n")
    prompt = FakeServer.instances[-1].bodies[-1]["prompt"]
    assert '"name": "find<x>"' in prompt  # tojson as transformers renders it: no HTML escaping
    assert prompt.endswith("<|im_start|>assistant\n<tool_call>\n")


@pytest.mark.parametrize(("error", "match"), [
    ({"code": 400, "message": "request (9603 tokens) exceeds the available context size (4096 tokens)",
      "type": "exceed_context_size_error"}, r"exceeds the available context.*raise DAOGOU_LLM_CTX"),
    ({"code": 500, "message": "boom", "type": "server_error"}, "llama.cpp refused the request: boom"),
])
def test_an_error_from_llama_cpp_is_a_generation_error_with_the_fix(engine: LlamaEngine, error: dict[str, Any],
                                                                    match: str) -> None:
    FakeServer.script = [{"error": error}]
    with pytest.raises(GenerationError, match=match):
        engine.generate([{"role": "user", "content": "hi"}])


def test_bad_arguments_are_refused_before_anything_runs(engine: LlamaEngine) -> None:
    with pytest.raises(ValueError, match="max_new_tokens=0 must be at least 1"):
        engine.generate([{"role": "user", "content": "hi"}], max_new_tokens=0)
    with pytest.raises(ValueError, match="temperature=-1"):
        engine.generate([{"role": "user", "content": "hi"}], temperature=-1)
    with pytest.raises(ValueError, match="messages is empty"):
        engine.generate([])
    assert FakeServer.instances[-1].bodies == []


# ------------------------------------------------------------------------------------------ constrained JSON
SCHEMA = {"type": "object", "properties": {"tool": {"enum": ["search", "recommend"]},
                                           "max_price": {"type": "integer", "minimum": 0, "maximum": 100000}},
          "required": ["tool"], "additionalProperties": False}


def test_generate_json_parses_and_sends_the_schema(engine: LlamaEngine) -> None:
    FakeServer.script = _pieces('{"tool": "search", ', '"max_price": 300}')
    assert engine.generate_json([{"role": "user", "content": "x"}], SCHEMA) == {"tool": "search", "max_price": 300}
    body = FakeServer.instances[-1].bodies[-1]
    assert body["json_schema"] == SCHEMA and body["temperature"] == 0.0


@pytest.mark.parametrize(("text", "match"), [
    ('{"tool": "search", "max_price": 3000000000000000}', "does not match the schema: 3000000000000000 is greater"),
    ('{"tool": "buy"}', "does not match the schema: 'buy' is not one of"),
    ('{"tool": "sea', "does not parse"),
])
def test_generate_json_refuses_what_the_grammar_should_not_have_let_through(engine: LlamaEngine, text: str,
                                                                           match: str) -> None:
    FakeServer.script = _pieces(text)
    with pytest.raises(GenerationError, match=match):
        engine.generate_json([{"role": "user", "content": "x"}], SCHEMA)


def test_generate_json_names_the_budget_when_cut(engine: LlamaEngine) -> None:
    FakeServer.script = _pieces('{"tool": "sea', finish="length")
    with pytest.raises(GenerationError, match="not complete after max_new_tokens=8 tokens"):
        engine.generate_json([{"role": "user", "content": "x"}], SCHEMA, max_new_tokens=8)


def test_generate_json_closes_objects_as_the_references_strict_mode_does(engine: LlamaEngine) -> None:
    open_schema = {"type": "object", "properties": {"name": {"const": "search"}, "arguments": {
        "type": "object", "properties": {"price_min": {"type": "integer"}}}}, "required": ["name"]}
    FakeServer.script = _pieces('{"name": "search", "arguments": {"price_min": 3}}')
    assert engine.generate_json([{"role": "user", "content": "x"}], open_schema)["arguments"] == {"price_min": 3}
    sent = FakeServer.instances[-1].bodies[-1]["json_schema"]
    assert sent["additionalProperties"] is False and sent["properties"]["arguments"]["additionalProperties"] is False
    FakeServer.script = _pieces('{"name": "search", "arguments": {"price_min ": 0}}')  # what the 1.5B once wrote
    with pytest.raises(GenerationError, match="Additional properties are not allowed"):
        engine.generate_json([{"role": "user", "content": "x"}], open_schema)
    kept = {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "string"}}
    assert strict_schema(kept) == kept  # an explicit choice stays
    assert strict_schema({"anyOf": [{"properties": {}}, {"type": "string"}]}) == {
        "anyOf": [{"properties": {}, "additionalProperties": False}, {"type": "string"}]}


def test_generate_json_refuses_an_invalid_schema_before_running(engine: LlamaEngine) -> None:
    with pytest.raises(ValueError, match="not a valid JSON schema: 'foo' is not valid"):
        engine.generate_json([{"role": "user", "content": "x"}], {"type": "foo"})
    assert FakeServer.instances[-1].bodies == []


# --------------------------------------------------------------------------------------------------- LoRA
def test_lora_scales_are_sent_per_request_and_unknown_names_refused(model: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "xllamacpp", FakeXlc)
    FakeServer.script = _pieces("好")
    eng = LlamaEngine(model, threads=1, adapters=_adapters(tmp_path))
    params = FakeServer.instances[-1].params
    assert params.lora_adapters == [(str(tmp_path / "copy.gguf"), 0.0), (str(tmp_path / "tone.gguf"), 0.0)]
    assert params.lora_init_without_apply is True  # loaded, applied only when asked
    eng.generate([{"role": "user", "content": "x"}])
    assert FakeServer.instances[-1].bodies[-1]["lora"] == [{"id": 0, "scale": 0.0}, {"id": 1, "scale": 0.0}]
    eng.generate([{"role": "user", "content": "x"}], lora="tone")
    assert FakeServer.instances[-1].bodies[-1]["lora"] == [{"id": 0, "scale": 0.0}, {"id": 1, "scale": 1.0}]
    writer = AdapterWriter(eng, "copy", adapter="info")
    writer.generate([{"role": "user", "content": "x"}])
    assert FakeServer.instances[-1].bodies[-1]["lora"][0] == {"id": 0, "scale": 1.0}
    assert writer.adapter == "info" and writer.last_stats is eng.last_stats
    with pytest.raises(ValueError, match=r"lora='style' is not loaded in this engine \(loaded: copy, tone\)"):
        eng.generate([{"role": "user", "content": "x"}], lora="style")
    with pytest.raises(ValueError, match="not loaded"):
        AdapterWriter(eng, "style")


def test_a_missing_adapter_file_is_named(model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "xllamacpp", FakeXlc)
    with pytest.raises(ModelError, match=r"LoRA adapter 'copy': file .*nowhere.gguf does not exist"):
        LlamaEngine(model, adapters={"copy": tmp_path / "nowhere.gguf"})


# ------------------------------------------------------------------------------------ set-up and lock-down
def test_the_http_listener_is_a_private_socket_with_a_key_and_nothing_extra(engine: LlamaEngine) -> None:
    p = FakeServer.instances[-1].params
    sock = Path(p.hostnames[0])
    assert sock.name == "engine.sock" and stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    assert len(p.api_keys) == 1 and len(p.api_keys[0]) >= 32
    assert p.ui is False and p.endpoint_slots is False and p.endpoint_props is False
    assert p.cpuparams.n_threads == 2 and p.n_parallel == 1 and p.n_ctx == 4096
    assert engine.listening_address.startswith("unix://")
    engine.close()
    assert not sock.parent.exists()  # the private folder goes with the engine
    with pytest.raises(GenerationError, match="the engine is closed"):
        engine.generate([{"role": "user", "content": "x"}])


def test_socket_folders_of_gone_processes_are_cleared(tmp_path: Path) -> None:
    import os
    import socket
    import time

    def folder(name: str) -> Path:
        path = tmp_path / f"daogou-llm-{name}"
        path.mkdir()
        return path

    dead = folder("dead")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(dead / "engine.sock"))  # bound, then closed: nobody listens any more
    live = folder("live")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(live / "engine.sock"))
    listener.listen(1)
    starting, abandoned = folder("starting"), folder("abandoned")
    os.utime(abandoned, (time.time() - 3600,) * 2)
    try:
        removed = llama_engine.clear_stale_socket_dirs(tmp_path)
    finally:
        listener.close()
    assert sorted(p.name for p in removed) == ["daogou-llm-abandoned", "daogou-llm-dead"]
    assert live.exists() and starting.exists() and not dead.exists() and not abandoned.exists()


def test_metrics_are_read_as_numbers(engine: LlamaEngine) -> None:
    assert engine.metrics() == {"tokens_predicted_total": 12.0, "requests_processing": 0.0}


def test_a_server_that_fails_to_start_gives_a_model_error_with_the_fix(model: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    class Broken(FakeXlc):
        @staticmethod
        def Server(params: Any) -> None:  # noqa: N802
            raise RuntimeError("Failed to init server, please check the input params.")

    monkeypatch.setitem(sys.modules, "xllamacpp", Broken)
    with pytest.raises(ModelError, match=r"llama.cpp could not load .*m\.gguf: Failed to init server.*Fix:"):
        LlamaEngine(model)


def test_threads_default_to_the_cores_this_process_may_use(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import sys

    monkeypatch.setitem(sys.modules, "xllamacpp", FakeXlc)
    assert available_cores() == len(os.sched_getaffinity(0))
    assert LlamaEngine(model).threads == available_cores()


def test_shared_engine_is_one_per_model_adapters_and_shape(model: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "xllamacpp", FakeXlc)
    monkeypatch.setattr(llama_engine, "_ENGINES", {})
    engines: list[LlamaEngine] = []
    threads = [threading.Thread(target=lambda: engines.append(shared_engine(model, threads=1))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(e) for e in engines}) == 1  # loaded once, even when asked from four threads at once
    assert shared_engine(model, threads=1, adapters=_adapters(tmp_path)) is not engines[0]
    assert shared_engine(model, threads=1, slots=2) is not engines[0]


# ------------------------------------------------------------------------------------ GGUF header, template
def test_gguf_header_reads_metadata_special_tokens_and_tensor_shapes(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", blocks=1)
    header = gguf_header(path)
    assert header.meta["general.architecture"] == "qwen2" and header.meta["qwen2.block_count"] == 1
    assert header.meta["tokenizer.ggml.bos_token"] == "<|endoftext|>"
    assert header.meta["tokenizer.ggml.eos_token"] == "<|im_end|>"
    assert header.tensors["blk.0.ffn_down.weight"] == (16, 8)  # ggml order: row length (in) first


@pytest.mark.parametrize("content", [b"", b"not a gguf file at all", b"GGUF" + struct.pack("<I", 9) + b"\0" * 16,
                                     b"GGUF" + struct.pack("<IQQ", 3, 0, 5)])
def test_a_file_that_is_not_a_readable_gguf_is_named(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=r"bad\.gguf is not a readable GGUF model file .*Fix:"):
        gguf_metadata(path)


def test_a_model_without_a_chat_template_is_refused(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "base.gguf", template=None)
    with pytest.raises(ModelError, match="has no chat template in its metadata; use an instruct"):
        ChatTemplate.from_gguf(path)


def test_the_template_renders_as_transformers_does(tmp_path: Path) -> None:
    template = ChatTemplate.from_gguf(write_gguf(tmp_path / "m.gguf"))
    text = template.render([{"role": "user", "content": "你好 <b>&"}], tools=[{"a": "<x>"}], assistant_prefix="{")
    assert text == '<|im_start|>user\n你好 <b>&<|im_end|>\n<tools>{"a": "<x>"}</tools><|im_start|>assistant\n{'
    assert json.loads(text.split("<tools>")[1].split("</tools>")[0]) == {"a": "<x>"}
    refusing = ChatTemplate("{{ raise_exception('no system role') }}")
    with pytest.raises(ValueError, match="the chat template refused the messages: no system role"):
        refusing.render([{"role": "system", "content": "x"}])
