"""The chat writer over an OpenAI-compatible server (llama.cpp server, vLLM, Ollama): for more hardware, scale-out.

`OpenAIWriter` speaks `POST {base_url}/chat/completions` with httpx: token streaming over server-sent events,
constrained JSON through `response_format: {"type": "json_schema", ...}`, and the timings the server sends back
(llama.cpp's `timings`, else the OpenAI `usage`). No key is built in: `api_key` (DAOGOU_LLM_API_KEY) is sent as
a bearer token only when set. Every request has a timeout (DAOGOU_LLM_TIMEOUT): seconds to connect, and
seconds of silence while reading. Closing a stream early closes its connection, which a llama.cpp server
takes as a cancel.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from daogou.llm.generation import (
    GenerationError,
    GenerationStats,
    fill_from_timings,
    schema_validator,
    strict_schema,
)

__all__ = ["OpenAIWriter"]


class OpenAIWriter:
    """A chat writer (`stream`, `generate`, `generate_json`, `last_stats`) backed by an OpenAI-compatible server.

    Args:
        base_url: the API root, e.g. http://127.0.0.1:8080/v1 (llama.cpp server) or http://127.0.0.1:8000/v1 (vLLM).
        model: the model name the server expects (vLLM: the served id; Ollama: e.g. qwen2.5:7b).
        api_key: sent as `Authorization: Bearer ...` when given; None sends no key.
        timeout: seconds to connect, and seconds of silence while reading an answer, before giving up.
        transport: an httpx transport (tests); None -> the network.

    Tools given to `stream` / `generate_json` are listed in the system message (the server's own chat template
    is not asked to parse tool calls); `assistant_prefix` is not sent (a JSON-schema reply needs none).
    """

    def __init__(self, base_url: str, *, model: str = "default", api_key: str | None = None,
                 timeout: float = 60.0, transport: httpx.BaseTransport | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url={base_url!r} must be an http(s) URL of the API root, e.g. "
                             "http://127.0.0.1:8080/v1")
        if timeout <= 0:
            raise ValueError(f"timeout={timeout} must be a positive number of seconds")
        self.base_url, self.model, self.timeout = base_url.rstrip("/"), model, timeout
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=httpx.Timeout(timeout),
                                    transport=transport)
        self.last_stats: GenerationStats | None = None

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    # ------------------------------------------------------------------------------------------ requests
    def _body(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, max_new_tokens: int,
              temperature: float) -> dict[str, Any]:
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens={max_new_tokens} must be at least 1")
        if temperature < 0:
            raise ValueError(f"temperature={temperature} must be >= 0 (0 = greedy)")
        return {"model": self.model, "messages": _with_tools(messages, tools), "max_tokens": max_new_tokens,
                "temperature": temperature}

    def stream(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None,
               max_new_tokens: int = 160, temperature: float = 0.0, stop: list[str] | None = None,
               assistant_prefix: str = "", stats: GenerationStats | None = None) -> Iterator[str]:
        """Yield the reply piece by piece as the server streams it; closing the generator drops the request."""
        body = {**self._body(messages, tools, max_new_tokens, temperature), "stream": True,
                "stream_options": {"include_usage": True}}
        if stop:
            body["stop"] = [s for s in stop if s]
        stats = stats if stats is not None else GenerationStats()
        t0 = time.perf_counter()
        t_first = t_last = 0.0
        try:
            with self._post(body) as response:
                for chunk in _events(response):
                    _fill(stats, chunk)
                    piece = ((chunk.get("choices") or [{}])[0].get("delta") or {}).get("content") or ""
                    if piece:
                        now = time.perf_counter()
                        t_first, t_last = t_first or now, now
                        stats.ttft_s = stats.ttft_s or now - t0
                        yield piece
        except httpx.HTTPError as e:
            raise self._failure(e) from e
        finally:
            stats.decode_s = t_last - t_first
            stats.total_s = time.perf_counter() - t0
            self.last_stats = stats

    def generate(self, messages: list[dict[str, Any]], **kwargs: Any) -> str:
        """The whole reply as one string (see `stream` for the arguments)."""
        return "".join(self.stream(messages, **kwargs))

    def generate_json(self, messages: list[dict[str, Any]], schema: dict[str, Any], *,
                      tools: list[dict[str, Any]] | None = None, assistant_prefix: str = "",
                      max_new_tokens: int = 128, stats: GenerationStats | None = None) -> Any:
        """A JSON value matching `schema`, decoded under the server's `response_format` constraint and checked.

        Raises GenerationError when the reply is cut by `max_new_tokens`, does not parse, or does not match.
        """
        schema = strict_schema(schema)  # OpenAI's strict mode wants closed objects; llama.cpp's grammar needs them
        validator = schema_validator(schema)
        body = {**self._body(messages, tools, max_new_tokens, 0.0),
                "response_format": {"type": "json_schema",
                                    "json_schema": {"name": "reply", "schema": schema, "strict": True}}}
        stats = stats if stats is not None else GenerationStats()
        t0 = time.perf_counter()
        try:
            with self._post(body) as response:
                response.read()
                data = response.json()
        except httpx.HTTPError as e:
            raise self._failure(e) from e
        except ValueError as e:
            raise GenerationError(f"{self.base_url} answered with something that is not JSON: {e}") from e
        finally:
            stats.total_s = time.perf_counter() - t0
            self.last_stats = stats
        _fill(stats, data)
        choice = (data.get("choices") or [{}])[0]
        text = str((choice.get("message") or {}).get("content") or "")
        if choice.get("finish_reason") == "length":
            raise GenerationError(f"the JSON was not complete after max_new_tokens={max_new_tokens} tokens "
                                  f"({text[:80]!r}...); raise max_new_tokens or simplify the schema")
        try:
            value = json.loads(text, strict=False)
        except json.JSONDecodeError as e:
            raise GenerationError(f"the server's constrained reply {text[:200]!r} does not parse: {e}; does it "
                                  "support response_format json_schema?") from e
        errors = list(validator.iter_errors(value))
        if errors:
            raise GenerationError(f"the server's reply {text[:200]!r} does not match the schema: {errors[0].message}")
        return value

    # ------------------------------------------------------------------------------------------- helpers
    @contextmanager
    def _post(self, body: dict[str, Any]) -> Iterator[httpx.Response]:
        """The server's streamed response to `body`; GenerationError on a status other than 200."""
        with self._client.stream("POST", "/chat/completions", json=body) as response:
            if response.status_code != 200:
                detail = response.read().decode("utf-8", "replace")[:300]
                raise GenerationError(self._status_text(response.status_code, detail))
            yield response

    def _status_text(self, status: int, detail: str) -> str:
        url = f"{self.base_url}/chat/completions"
        if status in (401, 403):
            return (f"{url} refused the request (HTTP {status}: {detail}). Fix: set DAOGOU_LLM_API_KEY to the "
                    "server's key")
        return f"{url} answered HTTP {status}: {detail}"

    def _failure(self, e: httpx.HTTPError) -> GenerationError:
        if isinstance(e, httpx.TimeoutException):
            return GenerationError(f"no answer from {self.base_url} within {self.timeout:g} s ({type(e).__name__})."
                                   " Fix: raise DAOGOU_LLM_TIMEOUT, or check that the server is not overloaded")
        return GenerationError(f"cannot talk to {self.base_url}: {e}. Fix: check DAOGOU_LLM_BASE_URL and that the "
                               "server is running")


def _with_tools(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """`messages` with the tools listed at the end of the system message (one JSON line per tool)."""
    if not tools:
        return messages
    listing = "Tools:\n" + "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
    if messages and messages[0].get("role") == "system":
        return [{**messages[0], "content": f"{messages[0]['content']}\n\n{listing}"}, *messages[1:]]
    return [{"role": "system", "content": listing}, *messages]


def _events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The JSON objects of a server-sent event stream, up to `data: [DONE]`."""
    for line in response.iter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError as e:
            raise GenerationError(f"the server streamed an unreadable event {data[:120]!r}: {e}") from e
        if "error" in event:
            raise GenerationError(f"the server failed mid-stream: {event['error']}")
        yield event


def _fill(stats: GenerationStats, data: dict[str, Any]) -> None:
    """Token counts from llama.cpp's `timings` when present, else from the OpenAI `usage`."""
    timings, usage = data.get("timings"), data.get("usage")
    if isinstance(timings, dict):
        fill_from_timings(stats, timings)
    elif isinstance(usage, dict):
        stats.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        stats.cached_tokens = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        stats.prefill_tokens = stats.prompt_tokens - stats.cached_tokens
        stats.decode_tokens = int(usage.get("completion_tokens") or 0)
