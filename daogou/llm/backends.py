"""Choose the chat model by configuration: the local LLM in-process, or any OpenAI-compatible server.

"local" runs the bundled model (or any transformers model folder) on this machine; "openai" talks to a
server that speaks the OpenAI chat API — vLLM, the llama.cpp server, Ollama — for more hardware or scale-out.
Both are LangChain chat models, so everything above this module is the same for either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

__all__ = ["KINDS", "make_chat_model"]

KINDS = ("local", "openai")


def make_chat_model(kind: str, *, model_path: Path | str | None = None, base_url: str | None = None,
                    api_key: str | None = None, model: str | None = None, threads: int = 2,
                    **options: Any) -> BaseChatModel:
    """A LangChain chat model of `kind` ("local" or "openai").

    Args:
        kind: "local" -> `LocalChatModel` (loaded on first use); "openai" -> `ChatOpenAI` against `base_url`.
        model_path: local only: a transformers model folder; None -> the bundled Qwen2.5-Coder-0.5B-Instruct.
        base_url: openai only, required: the server's API root, e.g. http://127.0.0.1:8000/v1.
        api_key: openai only: the server's key; local servers usually accept any value ("EMPTY" is sent).
        model: the model name; required by most servers (vLLM: the served model id; Ollama: e.g. qwen2.5:7b).
        threads: local only: torch CPU threads.
        options: passed to the model class (temperature, max_tokens, ...).
    """
    if kind == "local":
        if base_url is not None or api_key is not None:
            raise ValueError("kind='local' runs in-process and takes no base_url or api_key; use kind='openai' "
                             "for a server")
        from daogou.llm.chat_model import LocalChatModel

        params: dict[str, Any] = {"model_path": str(model_path) if model_path else None, "threads": threads}
        if model:
            params["model_name"] = model
        return LocalChatModel(**params, **options)
    if kind == "openai":
        if not base_url:
            raise ValueError("kind='openai' needs base_url, the API root of an OpenAI-compatible server, e.g. "
                             "http://127.0.0.1:8000/v1 (vLLM), http://127.0.0.1:8080/v1 (llama.cpp server) or "
                             "http://127.0.0.1:11434/v1 (Ollama)")
        if model_path is not None:
            raise ValueError(f"model_path={str(model_path)!r} applies to kind='local' only; the server at "
                             f"{base_url} loads its own model (name it with model=...)")
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as e:
            raise ImportError("kind='openai' needs langchain-openai: pip install langchain-openai") from e
        return ChatOpenAI(base_url=base_url, api_key=api_key or "EMPTY", model=model or "default", **options)
    raise ValueError(f"unknown chat model kind {kind!r}; choose one of {KINDS}")
