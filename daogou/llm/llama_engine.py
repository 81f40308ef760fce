"""The default chat engine: llama.cpp in-process (the `xllamacpp` binding), running the bundled GGUF as it is.

`LlamaEngine` owns one llama.cpp server context: the model, its KV cache split into `slots`, a task queue and
a loop thread. Requests are OpenAI-shaped completions of a prompt rendered with the model's own chat template
(`daogou.llm.chat_template`), so the engine and the transformers reference see the same text. What llama.cpp
gives for free is used as it is: the longest common prefix of a slot's last prompt is reused, prompts of
other sessions are kept in a RAM cache and restored when their session comes back, JSON schemas become
grammars that constrain decoding, timings come back with every answer, and LoRA adapters loaded at start are
applied per request with their own scale.

The binding also opens llama.cpp's HTTP listener. It is locked: it listens on a Unix socket in a private
temp folder (mode 0700, no TCP port), answers only requests carrying a random per-process API key, and serves
no web UI, no slot or props endpoints. Nothing in daogou talks to it; the engine is called in-process. The
folder goes with the engine; folders of killed processes are cleared when the next engine starts.

Build engines with `shared_engine(...)` (one per model file, adapter set and shape per process, shared by
the CLI, the widget and the evals), or through `daogou.llm.backends.make_writer(settings)`.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import secrets
import shutil
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daogou.llm.chat_template import ChatTemplate
from daogou.llm.generation import (
    GenerationError,
    GenerationStats,
    fill_from_timings,
    schema_validator,
    strict_schema,
)
from daogou.llm.gguf_file import gguf_metadata
from daogou.model_files import ModelError, force_offline

__all__ = ["AdapterWriter", "LlamaEngine", "available_cores", "clear_stale_socket_dirs", "shared_engine"]

log = logging.getLogger(__name__)

_DONE = object()  # end of a stream in the hand-over queue
SOCKET_PREFIX = "daogou-llm-"  # the private folder of each engine's locked HTTP listener, under the temp folder
_CANCEL_WAIT_S = 5.0  # how long closing a stream waits for llama.cpp to drop the request before moving on


def clear_stale_socket_dirs(root: Path | None = None, *, min_age_s: float = 600.0) -> list[Path]:
    """Remove the socket folders of engines whose process is gone; returns what was removed.

    A process killed without running its exit handlers (SIGTERM, SIGKILL) leaves its private folder behind. A
    folder goes when its socket refuses connections (nobody listens), or when it has no socket and is older
    than `min_age_s` (its engine never started); a live engine's folder answers and stays.
    """
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(SOCKET_PREFIX + "*"):
        sock = folder / "engine.sock"
        try:
            if folder.stat().st_uid != os.getuid():
                continue
            if sock.exists():
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.settimeout(1.0)
                    try:
                        probe.connect(str(sock))
                        continue  # a live engine
                    except ConnectionRefusedError:
                        pass
            elif time.time() - folder.stat().st_mtime < min_age_s:
                continue  # an engine that is starting
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class EngineSpec:
    """What makes two engines the same engine (the registry key)."""

    gguf: Path
    threads: int
    slots: int = 1
    ctx_per_slot: int = 4096
    adapters: tuple[tuple[str, Path], ...] = ()  # (name, GGUF LoRA file), in load order
    cache_ram_mib: int = 256


class LlamaEngine:
    """One GGUF chat model on llama.cpp, in this process: streaming, constrained JSON, KV reuse, LoRA per request.

    Args:
        gguf: the model file (verified by the caller, e.g. `daogou.llm.provision.llm_gguf_path`).
        threads: CPU threads for prefill and decode; None -> `available_cores()`.
        slots: replies decoded together; further requests wait in llama.cpp's queue (first come, first served).
        ctx_per_slot: context (prompt + reply) of each slot, in tokens.
        adapters: LoRA adapters in GGUF form by name (`daogou.llm.lora_gguf`); loaded at start with scale 0 and
            applied only to the requests that name them (`lora="copy"`).
        cache_ram_mib: RAM for KV states of other sessions' prompts, restored when they come back.

    Example:
        >>> engine = LlamaEngine(llm_gguf_path(settings))
        >>> "".join(engine.stream([{"role": "user", "content": "你好"}], max_new_tokens=20))
        '你好！有什么我可以帮助你的吗？'
    """

    def __init__(self, gguf: Path, *, threads: int | None = None, slots: int = 1, ctx_per_slot: int = 4096,
                 adapters: Mapping[str, Path] | None = None, cache_ram_mib: int = 256) -> None:
        force_offline()
        self.gguf = Path(gguf)
        if not self.gguf.is_file():
            raise ModelError(f"model file {self.gguf} does not exist. Fix: point DAOGOU_LLM_PATH at a .gguf file, "
                             "or unset it for the bundled model")
        if slots < 1 or ctx_per_slot < 256:
            raise ValueError(f"slots={slots} must be >= 1 and ctx_per_slot={ctx_per_slot} >= 256")
        self.meta = gguf_metadata(self.gguf)  # ModelError when it is not a GGUF
        self.template = ChatTemplate.from_gguf(self.gguf)
        self.model_name = str(self.meta.get("general.name") or self.gguf.stem)
        self.threads = threads or available_cores()
        self.slots, self.ctx_per_slot = slots, ctx_per_slot
        self.adapters = {name: Path(path) for name, path in (adapters or {}).items()}
        for name, path in self.adapters.items():
            if not path.is_file():
                raise ModelError(f"LoRA adapter {name!r}: file {path} does not exist. Fix: convert the adapter "
                                 "again (daogou.llm.lora_gguf.adapter_gguf_path)")
        self.last_stats: GenerationStats | None = None
        self._pending, self._pending_lock = 0, threading.Lock()
        self._api_key = secrets.token_urlsafe(32)
        clear_stale_socket_dirs()
        self._socket_dir = Path(tempfile.mkdtemp(prefix=SOCKET_PREFIX))  # 0700: only this user can connect
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._socket_dir, True)
        import xllamacpp as xlc

        t0 = time.perf_counter()
        try:
            self._server = xlc.Server(self._params(xlc, cache_ram_mib))
        except (RuntimeError, ValueError) as e:
            self._cleanup()
            raise ModelError(f"llama.cpp could not load {self.gguf}: {e}. Fix: check that the file is a complete "
                             "GGUF chat model (for a bundled model delete it and run `daogou models`), that the "
                             "adapters were made for this model, and that DAOGOU_LLM_CTX fits in memory") from e
        self.load_s = time.perf_counter() - t0

    # ------------------------------------------------------------------------------------------- set-up
    def _params(self, xlc: Any, cache_ram_mib: int) -> Any:
        p = xlc.CommonParams()
        p.model.path = str(self.gguf)
        p.n_parallel = self.slots
        p.n_ctx = self.slots * self.ctx_per_slot  # split evenly: each slot gets ctx_per_slot
        p.cpuparams.n_threads = self.threads
        p.cpuparams_batch.n_threads = self.threads
        p.cache_ram_mib = cache_ram_mib  # other sessions' prompts, restored when they come back
        p.warmup = False  # a warm-up decode costs a second at start and nothing after it
        p.verbosity = -1  # errors come back with each answer; llama.cpp's own log stays quiet
        # the HTTP listener the binding always opens: a private Unix socket, a random key, nothing extra served
        p.hostnames = [str(self._socket_dir / "engine.sock")]
        p.api_keys = [self._api_key]
        p.ui = False
        p.endpoint_slots = False
        p.endpoint_props = False
        p.endpoint_metrics = True  # for metrics(); behind the key and the socket like the rest
        p.n_threads_http = 1
        if self.adapters:
            p.lora_adapters = [xlc.CommonAdapterLoraInfo(str(path), 0.0) for path in self.adapters.values()]
            p.lora_init_without_apply = True  # scale 0 unless a request asks for it
        return p

    @property
    def listening_address(self) -> str:
        """Where llama.cpp's HTTP listener is bound (a Unix socket in a private folder)."""
        return str(self._server.listening_address)

    def close(self) -> None:
        """Stop the engine: its loop thread ends and the model's memory is freed. Idempotent."""
        server = self.__dict__.pop("_server", None)
        del server  # the binding joins its loop thread when the last reference goes
        self._cleanup()

    # ------------------------------------------------------------------------------------------ requests
    def render(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None,
               assistant_prefix: str = "") -> str:
        """The prompt text for `messages`: the model's chat template, ready for the reply, + `assistant_prefix`."""
        return self.template.render(messages, tools=tools, assistant_prefix=assistant_prefix)

    def _lora(self, lora: str | None) -> list[dict[str, Any]]:
        """Per-request adapter scales: 1 for the one named, 0 for every other loaded one."""
        if lora is not None and lora not in self.adapters:
            loaded = ", ".join(self.adapters) or "none"
            raise ValueError(f"lora={lora!r} is not loaded in this engine (loaded: {loaded}); build the engine "
                             "with it (DAOGOU_COPY_ADAPTER for the copy adapter)")
        return [{"id": i, "scale": 1.0 if name == lora else 0.0} for i, name in enumerate(self.adapters)]

    def _body(self, prompt: str, max_new_tokens: int, temperature: float, stop: list[str] | None,
              lora: str | None) -> dict[str, Any]:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens={max_new_tokens} must be at least 1")
        if temperature < 0:
            raise ValueError(f"temperature={temperature} must be >= 0 (0 = greedy)")
        body: dict[str, Any] = {
            "prompt": prompt, "max_tokens": max_new_tokens, "temperature": temperature, "stream": True,
            "cache_prompt": True,  # reuse the KV of the longest common prefix
            "top_k": 0, "top_p": 1.0, "min_p": 0.0,  # plain tempered sampling, as the transformers reference
            "stop": [s for s in (stop or []) if s],
        }
        if self.adapters:
            body["lora"] = self._lora(lora)
        return body

    def stream(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None,
               max_new_tokens: int = 160, temperature: float = 0.0, stop: list[str] | None = None,
               assistant_prefix: str = "", stats: GenerationStats | None = None,
               lora: str | None = None) -> Iterator[str]:
        """Yield the reply to `messages` piece by piece (greedy unless `temperature` > 0).

        Pieces never split a multi-byte character; generation ends at the end of the turn, after
        `max_new_tokens`, or before the first `stop` string (not yielded). `lora` names a loaded adapter to
        apply to this request. Closing the generator early cancels the request in llama.cpp and frees its slot.
        Timings go to `stats` (when given) and `last_stats`.
        """
        if lora is not None:
            self._lora(lora)  # fail before anything runs
        prompt = self.render(messages, tools=tools, assistant_prefix=assistant_prefix)
        body = self._body(prompt, max_new_tokens, temperature, stop, lora)
        for piece, _finish in self._run(body, stats if stats is not None else GenerationStats()):
            if piece:
                yield piece

    def generate(self, messages: list[dict[str, Any]], **kwargs: Any) -> str:
        """The whole reply as one string (see `stream` for the arguments)."""
        return "".join(self.stream(messages, **kwargs))

    def generate_json(self, messages: list[dict[str, Any]], schema: dict[str, Any], *,
                      tools: list[dict[str, Any]] | None = None, assistant_prefix: str = "",
                      max_new_tokens: int = 128, stats: GenerationStats | None = None,
                      lora: str | None = None) -> Any:
        """Greedy decoding constrained to the JSON `schema` (a llama.cpp grammar); the parsed, validated value.

        Objects that list `properties` take no other key unless the schema says so (`strict_schema`, as the
        transformers reference's xgrammar strict mode). Bound every number the model may write (`minimum` /
        `maximum`): unbounded, a small model writes a 15-digit price as readily as a 3-digit one. Raises
        GenerationError when the JSON is not complete after `max_new_tokens` or does not match `schema` (a
        keyword the grammar cannot express); ValueError when `schema` itself is not a valid JSON schema.
        """
        schema = strict_schema(schema)  # objects take only the keys they list, as under xgrammar's strict mode
        validator = schema_validator(schema)
        prompt = self.render(messages, tools=tools, assistant_prefix=assistant_prefix)
        body = {**self._body(prompt, max_new_tokens, 0.0, None, lora), "json_schema": schema}
        stats = stats if stats is not None else GenerationStats()
        pieces, finishes = [], [None]
        for piece, finish in self._run(body, stats):
            pieces.append(piece)
            finishes.append(finish)
        finish = finishes[-1]
        text = "".join(pieces)
        if finish == "length":
            raise GenerationError(f"the JSON was not complete after max_new_tokens={max_new_tokens} tokens "
                                  f"({text[:80]!r}...); raise max_new_tokens or simplify the schema")
        try:
            value = json.loads(text, strict=False)  # the grammar lets raw control characters into strings
        except json.JSONDecodeError as e:
            raise GenerationError(f"constrained output {text[:200]!r} does not parse: {e}") from e
        errors = sorted(validator.iter_errors(value), key=lambda err: list(err.path))
        if errors:
            raise GenerationError(f"constrained output {text[:200]!r} does not match the schema: "
                                  f"{errors[0].message}; the grammar could not express that keyword, so state "
                                  "the constraint another way (enum, minimum/maximum, maxLength)")
        return value

    # ------------------------------------------------------------------------------------- the stream loop
    def _run(self, body: dict[str, Any], stats: GenerationStats) -> Iterator[tuple[str, str | None]]:
        """Run one streamed request; yield (text piece, finish reason or None) in order; fill `stats`.

        The binding's call blocks until the reply ends, calling back once per chunk from its own thread; a
        worker thread makes the call and hands chunks over a queue. When the consumer stops early, the next
        callback returns True: the binding then drops the stream and llama.cpp cancels the task, freeing the
        slot (measured: no token is decoded after the cancel is seen).
        """
        server = self.__dict__.get("_server")
        if server is None:
            raise GenerationError("the engine is closed; build a new one")
        chunks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        cancel = threading.Event()

        def on_chunk(chunk: dict[str, Any]) -> bool:
            chunks.put(chunk)
            return cancel.is_set()

        def call() -> None:
            try:
                server.handle_completions(body, on_chunk)
            except Exception as e:  # handed to the consumer, which raises it as a GenerationError
                chunks.put(e)
            finally:
                with self._pending_lock:
                    self._pending -= 1
                chunks.put(_DONE)

        t0 = time.perf_counter()
        worker = threading.Thread(target=call, name="llama-request", daemon=True)
        with self._pending_lock:
            self._pending += 1
        worker.start()
        t_first = t_last = 0.0
        decoded = 0
        try:
            while (chunk := chunks.get()) is not _DONE:
                if isinstance(chunk, Exception):
                    raise GenerationError(f"llama.cpp failed: {chunk}") from chunk
                if "error" in chunk:
                    raise GenerationError(_error_text(chunk["error"]))
                choice = (chunk.get("choices") or [{}])[0]
                piece, finish = str(choice.get("text") or ""), choice.get("finish_reason")
                if "timings" in chunk:
                    fill_from_timings(stats, chunk["timings"])
                now = time.perf_counter()
                if piece:
                    t_first = t_first or now
                    t_last, decoded = now, decoded + 1
                    if stats.ttft_s == 0.0:
                        stats.ttft_s = now - t0
                yield piece, finish
        finally:
            cancel.set()  # a consumer that stopped early: the next chunk's callback ends the request
            worker.join(_CANCEL_WAIT_S)
            if worker.is_alive():
                log.warning("a cancelled request has not started yet (queued behind others); it ends at its "
                            "first token")
            if stats.decode_tokens == 0:
                stats.decode_tokens = decoded  # cancelled: no final timings came back
            stats.decode_s = t_last - t_first if decoded else 0.0
            stats.total_s = time.perf_counter() - t0
            self.last_stats = stats

    @property
    def pending(self) -> int:
        """Requests running or waiting in the engine right now (the agent reads a turn without the model when
        another shopper's request holds it, so that no card waits behind someone else's reply)."""
        return self._pending

    def metrics(self) -> dict[str, float]:
        """llama.cpp's counters (`tokens_predicted_total`, `requests_processing`, ...) as numbers."""
        server = self.__dict__.get("_server")
        if server is None:
            return {}
        text = str(server.handle_metrics())
        return {m.group(1): float(m.group(2)) for m in re.finditer(r"^llamacpp:(\w+) (\S+)$", text, re.M)}


def _error_text(error: Any) -> str:
    message = error.get("message", error) if isinstance(error, dict) else error
    if isinstance(error, dict) and error.get("type") == "exceed_context_size_error":
        return (f"llama.cpp refused the request: {message}. Fix: send fewer turns, or raise DAOGOU_LLM_CTX "
                f"(tokens per slot)")
    return f"llama.cpp refused the request: {message}"


class AdapterWriter:
    """A LoRA adapter of a shared engine as a writer of its own: every request applies it (e.g. product copy).

    `adapter` is the adapter's metadata (`daogou.llm.adapters.AdapterInfo`: its prompt template, training data).
    """

    def __init__(self, engine: LlamaEngine, lora: str, adapter: Any = None) -> None:
        engine._lora(lora)  # refuses a name the engine did not load
        self.engine, self.lora, self.adapter = engine, lora, adapter

    @property
    def last_stats(self) -> GenerationStats | None:
        """The engine's last timings."""
        return self.engine.last_stats

    def stream(self, messages: list[dict[str, Any]], **kwargs: Any) -> Iterator[str]:
        """`LlamaEngine.stream` with the adapter applied."""
        return self.engine.stream(messages, lora=self.lora, **kwargs)

    def generate(self, messages: list[dict[str, Any]], **kwargs: Any) -> str:
        """`LlamaEngine.generate` with the adapter applied."""
        return self.engine.generate(messages, lora=self.lora, **kwargs)

    def generate_json(self, messages: list[dict[str, Any]], schema: dict[str, Any], **kwargs: Any) -> Any:
        """`LlamaEngine.generate_json` with the adapter applied."""
        return self.engine.generate_json(messages, schema, lora=self.lora, **kwargs)


_ENGINES: dict[EngineSpec, LlamaEngine] = {}  # one engine per model, adapter set and shape, per process
_ENGINES_LOCK = threading.Lock()


def shared_engine(gguf: Path, *, threads: int | None = None, slots: int = 1, ctx_per_slot: int = 4096,
                  adapters: Mapping[str, Path] | None = None, cache_ram_mib: int = 256) -> LlamaEngine:
    """The process's engine for this model file, adapter set and shape; loaded on first use, then shared."""
    spec = EngineSpec(Path(gguf).resolve(), threads or available_cores(), slots, ctx_per_slot,
                      tuple((name, Path(p).resolve()) for name, p in (adapters or {}).items()), cache_ram_mib)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(spec)
        if engine is None:
            engine = LlamaEngine(spec.gguf, threads=spec.threads, slots=slots, ctx_per_slot=ctx_per_slot,
                                 adapters=dict(spec.adapters), cache_ram_mib=cache_ram_mib)
            _ENGINES[spec] = engine
        return engine
