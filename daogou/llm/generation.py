"""What every chat engine shares: the writer interface, its timing record and its error.

Three engines implement `ChatLLM`: the embedded llama.cpp engine (`llama_engine.LlamaEngine`, the default),
the transformers reference (`transformers_engine.LocalLLM`) and an OpenAI-compatible server
(`openai_writer.OpenAIWriter`). The agent, the tool proposer and `LocalChatModel` use only this interface, so
any of them can be swapped by one setting (`DAOGOU_LLM`). Nothing here imports torch or a native engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["ChatLLM", "GenerationError", "GenerationStats", "fill_from_timings", "schema_validator", "strict_schema"]


class GenerationError(RuntimeError):
    """The model could not produce what was asked (e.g. the JSON did not finish within the token budget)."""


@dataclass
class GenerationStats:
    """Timing of one generation call; every engine's `last_stats` holds the last one."""

    prompt_tokens: int = 0  # tokens of the rendered prompt
    cached_tokens: int = 0  # of those, reused from the KV cache of earlier requests
    prefill_tokens: int = 0  # of those, run through the model (prompt_tokens - cached_tokens)
    decode_tokens: int = 0  # tokens generated
    prefill_s: float = 0.0  # seconds spent prefilling
    ttft_s: float = 0.0  # seconds from the call to the first generated token
    decode_s: float = 0.0  # seconds from the first to the last generated token
    total_s: float = 0.0  # seconds for the whole call

    @property
    def prefill_tok_s(self) -> float:
        """Prefill speed in tokens per second (0 when nothing was prefilled)."""
        return self.prefill_tokens / self.prefill_s if self.prefill_s > 0 else 0.0

    @property
    def decode_tok_s(self) -> float:
        """Decode speed in tokens per second, after the first token."""
        return (self.decode_tokens - 1) / self.decode_s if self.decode_s > 0 and self.decode_tokens > 1 else 0.0

    def as_dict(self) -> dict[str, float]:
        """The figures as a flat dict (for logs and `timings_ms`)."""
        return {**self.__dict__, "prefill_tok_s": self.prefill_tok_s, "decode_tok_s": self.decode_tok_s}


class ChatLLM(Protocol):
    """A chat engine as the agent, the tool proposer and `LocalChatModel` use it (or a scripted fake in tests).

    Messages are OpenAI-shaped dicts (`{"role", "content"}`). `tools` (OpenAI tool dicts) are shown through the
    model's chat template; `assistant_prefix` is text the reply is forced to start with (not returned).
    """

    last_stats: GenerationStats | None

    def stream(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None,
               max_new_tokens: int = 160, temperature: float = 0.0, stop: list[str] | None = None,
               stats: GenerationStats | None = None) -> Iterator[str]:
        """Yield generated text piece by piece; fill `stats` when given. Closing the generator stops it."""
        ...

    def generate(self, messages: list[dict[str, Any]], **kwargs: Any) -> str:
        """The whole reply as one string (the arguments of `stream`)."""
        ...

    def generate_json(self, messages: list[dict[str, Any]], schema: dict[str, Any], *,
                      tools: list[dict[str, Any]] | None = None, assistant_prefix: str = "",
                      max_new_tokens: int = 128, stats: GenerationStats | None = None) -> Any:
        """One parsed JSON value that matches `schema`; GenerationError when none can be had."""
        ...


def fill_from_timings(stats: GenerationStats, timings: dict[str, Any]) -> None:
    """Copy llama.cpp's `timings` of an answer into `stats`: cached and prefilled prompt tokens, tokens decoded."""
    stats.cached_tokens = int(timings.get("cache_n", 0))
    stats.prefill_tokens = int(timings.get("prompt_n", 0))
    stats.prompt_tokens = stats.cached_tokens + stats.prefill_tokens
    stats.prefill_s = float(timings.get("prompt_ms", 0.0)) / 1000
    stats.decode_tokens = int(timings.get("predicted_n", 0))


def schema_validator(schema: dict[str, Any]) -> Any:
    """A jsonschema validator for `schema`, to check what a grammar let through; ValueError when it is not valid."""
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        where = "/".join(map(str, e.path)) or "the top"
        raise ValueError(f"not a valid JSON schema: {e.message} (at {where})") from e
    return cls(schema)


_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_ONE = ("items", "not", "if", "then", "else", "additionalItems")


def strict_schema(node: Any) -> Any:
    """`node` with every object that lists `properties` closed to other keys (`additionalProperties: false`).

    What xgrammar's strict mode does for the transformers reference: a JSON schema leaves an object open to any
    other key unless it says otherwise, and a grammar built from it lets the model invent keys (measured: the
    1.5B wrote `"price_min ": 0`, a key with a trailing space). An explicit `additionalProperties` is kept.
    """
    if isinstance(node, list):
        return [strict_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: strict_schema(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA_LISTS or key in _SUBSCHEMA_ONE or key == "additionalProperties":
            out[key] = strict_schema(value)
        else:
            out[key] = value
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out
