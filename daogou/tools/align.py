"""Mid fusion: a small learned head that maps e5 text vectors and EfficientNet image vectors into one space.

No model on this machine embeds text and images together (no CLIP can be had offline), so this trains one
on the catalog itself: two linear maps, text (384-d) -> d and image (1280-d) -> d, fitted with the symmetric
InfoNCE loss of CLIP on the catalog's own (passage vector, image vector) pairs. The encoders stay frozen;
the vectors are read from the store. What it gives:

- text -> image search: a query's e5 vector and the products' image vectors meet in the shared space;
- image -> text: a photo meets the products' text vectors;
- one joint vector per product (the normalised sum of its two projections), the "mid" fusion strategy.

Training uses torch (seconds on this CPU for a few hundred products); the saved head is plain numpy
(`<home>/align/<store key>.npz`, no pickle) and is applied with numpy, so search never imports torch.
The file records a signature of the catalog it was trained on; when the catalog changes the head is stale
and `load_head` says so instead of applying it.
"""

from __future__ import annotations

import hashlib
import json
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from daogou.ingest.store import ProductStore
from daogou.settings import Settings

__all__ = [
    "AlignConfig",
    "AlignHead",
    "StaleHeadError",
    "ensure_head",
    "alignment_recall",
    "catalog_pairs",
    "catalog_signature",
    "fit_catalog_head",
    "head_for",
    "head_path",
    "load_head",
    "save_head",
    "split_ids",
    "train_head",
]

FORMAT = 1  # bump when the saved layout changes


class StaleHeadError(RuntimeError):
    """The saved head does not belong to the current catalog (or is unreadable); the message says what to run."""


@dataclass(frozen=True)
class AlignConfig:
    """How to train the head. The defaults train 312 demo products in a few seconds on 2 CPU threads."""

    dim: int = 128  # size of the shared space
    epochs: int = 300  # full-batch steps (a catalog of a few thousand pairs fits in one batch)
    lr: float = 3e-3  # AdamW learning rate
    weight_decay: float = 1e-2  # keeps the maps small: a few hundred pairs are easy to memorise
    temperature: float = 0.07  # initial InfoNCE temperature (learned, clamped to >= 0.01)
    batch: int = 1024  # pairs per step; more pairs than this are shuffled into mini-batches
    seed: int = 0


@dataclass(frozen=True)
class AlignHead:
    """Two linear maps into a shared `dim`-d space, applied with numpy; outputs are unit vectors."""

    w_text: np.ndarray  # (text_dim, dim)
    b_text: np.ndarray  # (dim,)
    w_image: np.ndarray  # (image_dim, dim)
    b_image: np.ndarray  # (dim,)
    meta: dict[str, Any] = field(default_factory=dict)  # training config, figures, catalog signature

    @property
    def dim(self) -> int:
        """Size of the shared space."""
        return int(self.w_text.shape[1])

    def project_text(self, vectors: np.ndarray) -> np.ndarray:
        """(n, text_dim) e5 vectors -> (n, dim) unit vectors in the shared space (1-d in, 1-d out)."""
        return _unit(np.asarray(vectors, dtype=np.float32) @ self.w_text + self.b_text)

    def project_image(self, vectors: np.ndarray) -> np.ndarray:
        """(n, image_dim) EfficientNet vectors -> (n, dim) unit vectors in the shared space."""
        return _unit(np.asarray(vectors, dtype=np.float32) @ self.w_image + self.b_image)


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.where(n > 0, n, 1.0)).astype(np.float32)


# -- training --------------------------------------------------------------------------------------------
def train_head(text: np.ndarray, image: np.ndarray, config: AlignConfig = AlignConfig(), *,
               on_epoch: Callable[[int, float], None] | None = None) -> tuple[AlignHead, list[float]]:
    """Fit the head on paired rows (row i of `text` goes with row i of `image`); returns it and the loss per epoch.

    Loss: symmetric InfoNCE, the mean of the cross-entropies text->image and image->text over the
    cosine-similarity matrix divided by a learned temperature. `on_epoch(epoch, loss)` reports progress.
    """
    import torch

    t = np.asarray(text, dtype=np.float32)
    v = np.asarray(image, dtype=np.float32)
    if t.ndim != 2 or v.ndim != 2 or t.shape[0] != v.shape[0]:
        raise ValueError(f"need paired 2-d arrays with one row per product; got text {t.shape}, image {v.shape}")
    if t.shape[0] < 2:
        raise ValueError(f"{t.shape[0]} (text, image) pair(s): training needs at least 2 products with an image")
    if config.dim < 1 or config.epochs < 1:
        raise ValueError(f"dim={config.dim} and epochs={config.epochs} must both be at least 1")
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    tt, vv = torch.from_numpy(t), torch.from_numpy(v)
    f_text = torch.nn.Linear(t.shape[1], config.dim)
    f_image = torch.nn.Linear(v.shape[1], config.dim)
    log_scale = torch.nn.Parameter(torch.tensor(float(np.log(1.0 / config.temperature))))
    params = [*f_text.parameters(), *f_image.parameters(), log_scale]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    n = t.shape[0]
    losses: list[float] = []
    for epoch in range(config.epochs):
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, config.batch):
            rows = order[start:start + config.batch]
            if len(rows) < 2:
                continue
            zt = torch.nn.functional.normalize(f_text(tt[rows]), dim=-1)  # (b, dim)
            zv = torch.nn.functional.normalize(f_image(vv[rows]), dim=-1)  # (b, dim)
            logits = zt @ zv.T * log_scale.clamp(max=float(np.log(100.0))).exp()  # (b, b)
            target = torch.arange(len(rows))
            loss = (torch.nn.functional.cross_entropy(logits, target)
                    + torch.nn.functional.cross_entropy(logits.T, target)) / 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(rows)
        losses.append(total / n)
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    with torch.no_grad():
        head = AlignHead(
            w_text=f_text.weight.T.numpy().copy(), b_text=f_text.bias.numpy().copy(),
            w_image=f_image.weight.T.numpy().copy(), b_image=f_image.bias.numpy().copy(),
            meta={"config": config.__dict__, "pairs": n, "final_loss": losses[-1],
                  "temperature": float(1.0 / log_scale.exp())},
        )
    return head, losses


def alignment_recall(head: AlignHead, text: np.ndarray, image: np.ndarray,
                     ks: Sequence[int] = (1, 10)) -> dict[str, float]:
    """Paired retrieval accuracy: share of rows whose own partner is in the top k, text->image and image->text.

    Keys like "t2i@1", "i2t@10"; chance level is k / n.
    """
    zt, zv = head.project_text(text), head.project_image(image)
    sim = zt @ zv.T  # (n, n): text row i vs image row j
    n = sim.shape[0]
    out: dict[str, float] = {}
    for name, s in (("t2i", sim), ("i2t", sim.T)):
        own = np.diag(s)[:, None]
        rank = (s > own).sum(axis=1)  # 0 = the partner is first
        for k in ks:
            out[f"{name}@{k}"] = float((rank < k).mean()) if n else 0.0
    return out


def split_ids(ids: Sequence[str], held_out: float, seed: int) -> tuple[list[str], list[str]]:
    """Deterministic (train, held-out) split of ids; `held_out` is the share kept out (0 <= share < 1)."""
    if not 0.0 <= held_out < 1.0:
        raise ValueError(f"held-out share {held_out!r} must be in [0, 1), e.g. 0.2")
    ranked = sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
    cut = int(round(len(ranked) * held_out))
    return sorted(ranked[cut:]), sorted(ranked[:cut])


# -- the catalog side ------------------------------------------------------------------------------------
def catalog_pairs(store: ProductStore, ids: Sequence[str] | None = None) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(ids, text vectors, image vectors) of the products among `ids` (default: all) that have both."""
    ids = list(store.all_ids() if ids is None else ids)
    text: dict[str, np.ndarray] = {}
    image: dict[str, np.ndarray] = {}
    for start in range(0, len(ids), 2000):
        chunk = ids[start:start + 2000]
        text.update(store.text_vectors(chunk))
        image.update(store.image_vectors(chunk))
    both = [i for i in ids if i in text and i in image]
    if not both:
        return [], np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32)
    return both, np.stack([text[i] for i in both]), np.stack([image[i] for i in both])


def catalog_signature(store: ProductStore, hashes: dict[str, str] | None = None) -> str:
    """Hash of what the head depends on: every product's content signature and both encoders' fingerprints.
    `hashes` (id -> content hash of every product, e.g. from the catalog index) saves reading them from the store."""
    if hashes is None:
        ids = sorted(store.all_ids())
        hashes = store.hashes(ids) if ids else {}
    ids = sorted(hashes)
    h = hashlib.sha256()
    for ef in (store.text_ef, store.image_ef):
        h.update(json.dumps(ef.get_config(), sort_keys=True).encode())
    for i in ids:
        h.update(f"{i}\0{hashes.get(i, '')}\n".encode())
    return h.hexdigest()[:24]


def head_path(settings: Settings) -> Path:
    """Where the head of the store `settings` points at is kept: `<home>/align/<store key>.npz`."""
    where = settings.chroma_url or str(settings.resolved_store_dir.resolve())
    key = hashlib.sha256(f"{where}|{settings.collection_prefix}".encode()).hexdigest()[:16]
    return settings.home / "align" / f"{key}.npz"


def save_head(head: AlignHead, path: Path, signature: str) -> None:
    """Write the head with its training metadata and the catalog signature (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {**head.meta, "format": FORMAT, "catalog_signature": signature,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, w_text=head.w_text, b_text=head.b_text, w_image=head.w_image, b_image=head.b_image,
             meta=np.array(json.dumps(meta, ensure_ascii=False)))
    tmp.replace(path)


def load_head(path: Path, signature: str | None) -> AlignHead | None:
    """The saved head, or None when none was trained. Raises StaleHeadError when it was trained on another
    catalog (`signature` differs; None skips the check) or the file is unreadable."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            head = AlignHead(w_text=z["w_text"], b_text=z["b_text"], w_image=z["w_image"], b_image=z["b_image"],
                             meta=meta)
    except (OSError, ValueError, KeyError) as e:
        raise StaleHeadError(f"alignment head {path} is unreadable ({e}); run `daogou tune align` again") from e
    if meta.get("format") != FORMAT:
        raise StaleHeadError(f"alignment head {path} has format {meta.get('format')}, this version reads "
                             f"{FORMAT}; run `daogou tune align` again")
    if signature is not None and meta.get("catalog_signature") != signature:
        raise StaleHeadError(
            f"alignment head {path.name} was trained on another catalog ({meta.get('pairs')} products, "
            f"{meta.get('saved_at')}); the catalog changed since. Run `daogou tune align` to retrain it"
        )
    return head


def fit_catalog_head(store: ProductStore, config: AlignConfig = AlignConfig(), *, held_out: float = 0.2,
                     on_epoch: Callable[[int, float], None] | None = None) -> tuple[AlignHead, dict[str, Any]]:
    """Train the head on the store's catalog and save it where search finds it (`head_path`).

    First fits on a (1 - held_out) share of the products and measures paired retrieval on the held-out
    rest (text->image and image->text R@1/R@10, beside chance = k / held-out count); then, when something
    was held out, refits on every product (same config) and saves that head. Returns it and the figures.
    """
    ids, text, image = catalog_pairs(store)
    if len(ids) < 4:
        raise ValueError(f"only {len(ids)} products have both a text and an image vector; the head needs at "
                         "least 4 (ingest a catalog with images first)")
    train, test = split_ids(ids, held_out, config.seed)
    if len(train) < 2:
        raise ValueError(f"held-out share {held_out} leaves {len(train)} training pair(s); lower it")
    row = {pid: r for r, pid in enumerate(ids)}
    tr, te = [row[i] for i in train], [row[i] for i in test]
    head, losses = train_head(text[tr], image[tr], config, on_epoch=on_epoch)
    figures: dict[str, Any] = {
        "products": len(ids), "train": len(train), "held_out": len(test),
        "first_loss": losses[0], "final_loss": losses[-1],
        "train_recall": alignment_recall(head, text[tr], image[tr]),
    }
    if te:
        figures["held_out_recall"] = alignment_recall(head, text[te], image[te])
        figures["chance"] = {"@1": 1 / len(te), "@10": min(1.0, 10 / len(te))}
        head, _ = train_head(text, image, config, on_epoch=on_epoch)
    head = AlignHead(head.w_text, head.b_text, head.w_image, head.b_image, meta={**head.meta, "figures": figures})
    save_head(head, head_path(store.settings), catalog_signature(store))
    return head, figures


@dataclass
class _Loaded:
    revision: str
    head: AlignHead | None
    problem: str  # why there is no head ("" when there is one)
    # (n, dim) rows of `ids`: "text" and "image" projections (NaN rows where a product lacks that side) and
    # "joint", the mid-fused product vector: the normalised sum of the two (text alone without an image)
    projected: dict[str, np.ndarray] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    pos: dict[str, int] = field(default_factory=dict)  # id -> row of `projected`


_LOADED: weakref.WeakKeyDictionary[Any, _Loaded] = weakref.WeakKeyDictionary()


def head_for(index: Any) -> _Loaded:
    """The head for this CatalogIndex's store, with every product's projections; reloaded after a store write.

    `.head` is None when none was trained or it is stale; `.problem` then says which and what to run.
    """
    revision = index.revision or index.store.revision()  # the index's own: it was refreshed by the caller
    got = _LOADED.get(index)
    if got is not None and got.revision == revision:
        return got
    path = head_path(index.store.settings)
    try:  # (the signature hashes every product: only worth it when a head was saved)
        head = load_head(path, catalog_signature(index.store, index.content_hashes())) if path.exists() else None
        if head is not None:
            problem = ""
        elif index.store.count_images() == 0:  # tune align could not help: it trains on the catalog's images
            problem = "the catalog has no product images, so nothing can be matched to a photo or by looks"
        else:
            problem = "no alignment head for this catalog; run `daogou tune align`"
    except StaleHeadError as e:
        head, problem = None, str(e)
    got = _Loaded(revision=revision, head=head, problem=problem)
    if head is not None:
        ids = list(index.ids) or index.store.all_ids()
        text: dict[str, np.ndarray] = {}
        image: dict[str, np.ndarray] = {}
        for start in range(0, len(ids), 2000):
            text.update(index.text_vectors(ids[start:start + 2000]))
            image.update(index.store.image_vectors(ids[start:start + 2000]))
        got.ids = ids
        got.pos = {pid: r for r, pid in enumerate(ids)}
        proj_t = _project_rows(head.project_text, ids, text, head.dim)
        proj_i = _project_rows(head.project_image, ids, image, head.dim)
        got.projected = {"text": proj_t, "image": proj_i, "joint": _unit(proj_t + np.nan_to_num(proj_i, nan=0.0))}
    _LOADED[index] = got
    return got


def _project_rows(fn: Callable[[np.ndarray], np.ndarray], ids: list[str], vectors: dict[str, np.ndarray],
                  dim: int) -> np.ndarray:
    """(len(ids), dim) projections; a product without that vector gets a row of NaN."""
    out = np.full((len(ids), dim), np.nan, dtype=np.float32)
    rows = [r for r, i in enumerate(ids) if i in vectors]
    if rows:
        out[rows] = fn(np.stack([vectors[ids[r]] for r in rows]))
    return out


def ensure_head(store: ProductStore, settings: Settings) -> str:
    """Train the head when mid fusion is the setting and the store has none or a stale one; "" when nothing to do.

    Used after the demo catalog is loaded, so that the embedded defaults get the strategy the evaluation chose;
    for a shop's own catalog `daogou tune align` stays an explicit step (it prints held-out figures).
    """
    if settings.fusion != "mid":
        return ""
    try:
        if load_head(head_path(store.settings), catalog_signature(store)) is not None:
            return ""
    except StaleHeadError:
        pass
    try:
        _, figures = fit_catalog_head(store, held_out=0.0)
    except ValueError as e:
        return f"mid fusion: no alignment head ({e}); late fusion is used"
    return (f"mid fusion: alignment head trained on {figures['train']} products with an image "
            f"(loss {figures['first_loss']:.2f} -> {figures['final_loss']:.3f})")
