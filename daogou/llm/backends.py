"""Choose the chat engine by configuration: embedded llama.cpp (default), transformers, an OpenAI server, or none.

`make_writer(settings)` gives what the agent writes with and `make_copy_writer(settings)` what writes product
copy; both follow `DAOGOU_LLM`:

- `llama` (default): the bundled GGUF (`DAOGOU_LLM_SIZE` 0.5b or 1.5b, or a .gguf at `DAOGOU_LLM_PATH`) on the
  in-process llama.cpp engine; one engine per model, adapters and shape per process, shared by the CLI, the
  widget and the evals. The copy adapter (`DAOGOU_COPY_ADAPTER`) is converted to a GGUF LoRA and loaded into
  that same engine, applied only to copy requests.
- `transformers`: the bf16 reference (`LocalLLM`), for parity checks; the copy adapter is merged into a
  second copy of the weights.
- `openai`: an OpenAI-compatible server (`DAOGOU_LLM_BASE_URL`, `DAOGOU_LLM_API_KEY`, `DAOGOU_LLM_TIMEOUT`).
- `none`: no model (fixed sentences only).

`make_chat_model(kind)` gives the same engines as LangChain chat models (`LocalChatModel`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel

from daogou.llm.generation import ChatLLM

if TYPE_CHECKING:
    from daogou.llm.llama_engine import LlamaEngine
    from daogou.settings import Settings

__all__ = ["KINDS", "llama_engine_for", "make_chat_model", "make_copy_writer", "make_writer"]

KINDS = ("local", "openai")

_TRANSFORMERS: dict[tuple[str, str], Any] = {}  # one transformers model per (folder, adapter) per process
_TRANSFORMERS_LOCK = threading.Lock()


def make_writer(settings: Settings) -> ChatLLM | None:
    """The engine that writes the words (and reads turns), as `settings.llm` says; None for "none"."""
    if settings.llm == "none":
        return None
    if settings.llm == "openai":
        from daogou.llm.openai_writer import OpenAIWriter

        if not settings.llm_base_url:
            raise ValueError("DAOGOU_LLM=openai needs DAOGOU_LLM_BASE_URL, the server's API root, e.g. "
                             "http://127.0.0.1:8080/v1 (llama.cpp server) or http://127.0.0.1:8000/v1 (vLLM)")
        return OpenAIWriter(settings.llm_base_url, model=settings.llm_model, api_key=settings.llm_api_key,
                            timeout=settings.llm_timeout)
    if settings.llm == "transformers":
        return _transformers(settings, None)
    return llama_engine_for(settings)


def make_copy_writer(settings: Settings) -> ChatLLM | None:
    """The copy writer with the LoRA adapter of `DAOGOU_COPY_ADAPTER`, or None: the reply writer writes copy.

    On llama.cpp the adapter runs on the shared engine (no second model); on transformers it is merged into its
    own copy of the weights (~1 GB more for the 0.5B); an OpenAI server cannot take it.
    """
    if settings.copy_adapter is None or settings.llm in ("none", "openai"):
        return None
    if settings.llm == "transformers":
        return _transformers(settings, Path(settings.copy_adapter))
    from daogou.llm.adapters import read_adapter_info
    from daogou.llm.llama_engine import AdapterWriter

    return AdapterWriter(llama_engine_for(settings), "copy", read_adapter_info(Path(settings.copy_adapter)))


def llama_engine_for(settings: Settings) -> LlamaEngine:
    """The shared llama.cpp engine for `settings`: its model, copy adapter (if any), threads, slots and context."""
    from daogou.llm.llama_engine import shared_engine

    gguf, sha256 = _gguf(settings)
    adapters = {}
    if settings.copy_adapter is not None:
        from daogou.llm.lora_gguf import adapter_gguf_path

        adapters["copy"] = adapter_gguf_path(Path(settings.copy_adapter), gguf, sha256(), settings)
    return shared_engine(gguf, threads=settings.llm_threads, slots=settings.llm_slots,
                         ctx_per_slot=settings.llm_ctx, adapters=adapters)


def _gguf(settings: Settings) -> tuple[Path, Any]:
    """The model file for llama.cpp and a function giving its sha256 (known for bundled models, hashed else)."""
    from daogou.llm.provision import bundled_model, llm_gguf_path
    from daogou.model_files import sha256_file

    if settings.llm_path is None:
        model = bundled_model(settings)
        return llm_gguf_path(settings, model), lambda: model.sha256
    path = Path(settings.llm_path)
    if path.is_dir():
        raise ValueError(f"DAOGOU_LLM_PATH={path} is a folder (a transformers model?) but DAOGOU_LLM=llama runs a "
                         ".gguf file. Fix: point DAOGOU_LLM_PATH at a .gguf file, or set DAOGOU_LLM=transformers")
    if not path.is_file():
        raise FileNotFoundError(f"DAOGOU_LLM_PATH={path} does not exist. Fix: point it at a .gguf file, or unset "
                                "it for the bundled model")
    return path, lambda: sha256_file(path)


def _transformers(settings: Settings, adapter: Path | None) -> Any:
    """The process's transformers reference model for `settings` (with `adapter` merged), loaded once."""
    from daogou.llm.transformers_engine import LocalLLM

    key = (str(settings.llm_path or f"bundled:{settings.llm_size}"), str(adapter or ""))
    with _TRANSFORMERS_LOCK:
        if key not in _TRANSFORMERS:
            path = settings.llm_path
            if path is None:
                from daogou.llm.provision import llm_transformers_dir

                path = llm_transformers_dir(settings)
            _TRANSFORMERS[key] = LocalLLM(path, threads=settings.threads, settings=settings, adapter=adapter)
        return _TRANSFORMERS[key]


def make_chat_model(kind: str, *, model_path: Path | str | None = None, base_url: str | None = None,
                    api_key: str | None = None, model: str | None = None, threads: int = 2,
                    timeout: float = 60.0, **options: Any) -> BaseChatModel:
    """A LangChain chat model (`LocalChatModel`: constrained tool calls, streaming) over the engine of `kind`.

    Args:
        kind: "local" -> the in-process engine, loaded on first use; "openai" -> an OpenAI-compatible server at
            `base_url` (`OpenAIWriter`: its `response_format` json_schema constrains the tool decisions).
        model_path: local only: a .gguf file (llama.cpp) or a transformers model folder; None -> the bundled model.
        base_url: openai only, required: the server's API root, e.g. http://127.0.0.1:8080/v1.
        api_key: openai only: the server's key; None sends no key.
        model: the model name; required by most servers (vLLM: the served model id; Ollama: e.g. qwen2.5:7b).
        threads: local only: CPU threads for a transformers folder (llama.cpp uses the cores available).
        timeout: openai only: seconds to connect, and of silence while reading, before a request is given up.
        options: passed to `LocalChatModel` (temperature, max_tokens, lang, few_shot, ...).
    """
    from daogou.llm.chat_model import LocalChatModel

    if kind == "local":
        if base_url is not None or api_key is not None:
            raise ValueError("kind='local' runs in-process and takes no base_url or api_key; use kind='openai' "
                             "for a server")
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
        from daogou.llm.openai_writer import OpenAIWriter

        writer = OpenAIWriter(base_url, model=model or "default", api_key=api_key, timeout=timeout)
        return LocalChatModel(llm=writer, model_name=model or "default", **options)
    raise ValueError(f"unknown chat model kind {kind!r}; choose one of {KINDS}")
