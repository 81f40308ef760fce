"""Build the assistant from Settings: the store (with the demo catalog when it is empty), the index, the model."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from daogou.agent.agent import Agent, ReplyWriter
from daogou.ingest.store import ProductStore, open_store
from daogou.settings import Settings
from daogou.tools.catalog_index import CatalogIndex

__all__ = ["build_agent", "ensure_catalog", "make_copy_writer", "make_reader", "make_writer"]


def ensure_catalog(settings: Settings, store: ProductStore) -> None:
    """An empty store gets the built-in demo catalog, so the embedded defaults always have products."""
    if store.count() > 0:
        return
    from daogou.ingest.demo import build_demo_catalog
    from daogou.ingest.pipeline import ingest_catalogs

    print("empty store: loading the built-in demo catalog (first run only)...", file=sys.stderr)
    catalog = build_demo_catalog(settings.home / "demo")
    report = ingest_catalogs([catalog], store, settings)
    print(report.summary(), file=sys.stderr)
    from daogou.tools.align import ensure_head

    trained = ensure_head(store, settings)
    if trained:
        print(trained, file=sys.stderr)


def make_writer(settings: Settings) -> ReplyWriter | None:
    """The model that writes the words: the local LLM, an OpenAI-compatible server, or none (fixed sentences)."""
    if settings.llm == "none":
        return None
    if settings.llm == "openai":
        from daogou.llm.backends import make_chat_model

        if not settings.llm_base_url:
            raise ValueError("DAOGOU_LLM=openai needs DAOGOU_LLM_BASE_URL (e.g. http://127.0.0.1:8000/v1)")
        return ChatModelWriter(make_chat_model("openai", base_url=settings.llm_base_url, model=settings.llm_model))
    from daogou.llm.transformers_engine import LocalLLM

    return LocalLLM(settings.llm_path, threads=settings.threads, settings=settings)


class ChatModelWriter:
    """A LangChain chat model (e.g. ChatOpenAI against vLLM / llama.cpp server / Ollama) as a token stream."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def stream(self, messages: list[dict[str, str]], *, max_new_tokens: int = 160) -> Iterator[str]:
        """Tokens of the model's reply to `messages`."""
        for chunk in self.model.bind(max_tokens=max_new_tokens).stream(
                [(m["role"], m["content"]) for m in messages]):
            if chunk.content:
                yield str(chunk.content)


def build_agent(settings: Settings, *, demo_if_empty: bool = True) -> Agent:
    """The agent over the configured store, loading the demo catalog into an empty store by default."""
    store = open_store(settings)
    if demo_if_empty:
        ensure_catalog(settings, store)
    index = CatalogIndex(store, cache_dir=settings.home / "cache", background=True).refresh()
    writer = make_writer(settings)
    return Agent(index, writer=writer, shop=settings.shop_name, copy_writer=make_copy_writer(settings),
                 reader=make_reader(settings, writer, index))


def make_reader(settings: Settings, writer: ReplyWriter | None, index: CatalogIndex) -> Any:
    """The model's reading of every turn (DAOGOU_READER=model, the default), or None: the rules read alone.

    It needs grammar-constrained JSON (`generate_json`), which every engine of `daogou.llm` provides.
    """
    if settings.reader != "model" or writer is None or not hasattr(writer, "generate_json"):
        return None
    from daogou.agent.model_reading import ModelReader

    return ModelReader(writer, index)


def make_copy_writer(settings: Settings) -> ReplyWriter | None:
    """The LoRA-tuned copy model (`DAOGOU_COPY_ADAPTER`, from `daogou tune copy`), or None: the reply model writes copy.

    The adapter is merged into its own copy of the local model (~1 GB more memory for the bundled 0.5B), so the
    chat's advice and the tool decisions keep the untuned weights.
    """
    if settings.copy_adapter is None or settings.llm != "local":
        return None
    from daogou.llm.transformers_engine import LocalLLM

    return LocalLLM(settings.llm_path, threads=settings.threads, settings=settings, adapter=settings.copy_adapter)
