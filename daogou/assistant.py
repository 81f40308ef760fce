"""Build the assistant from Settings: the store (with the demo catalog when it is empty), the index, the model."""

from __future__ import annotations

import sys
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
    """The model that writes the words: the embedded llama.cpp engine by default (see daogou/llm/backends.py)."""
    from daogou.llm.backends import make_writer as writer_for

    return writer_for(settings)


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
    """The LoRA-tuned copy writer (`DAOGOU_COPY_ADAPTER`, from `daogou tune copy`), or None: the reply model writes.

    On the default llama.cpp engine the adapter is loaded into the same engine and applied to copy requests only,
    so the chat's advice and the tool decisions keep the untuned weights and no second model is loaded.
    """
    from daogou.llm.backends import make_copy_writer as copy_writer_for

    return copy_writer_for(settings)
