"""`daogou eval fusion`: early / mid / late fusion (and each side alone) on the demo catalog, same queries.

Labelled queries are built from the catalog itself, and the alignment head never sees the products it is
scored on: the demo catalog (312 products, drawn images) is ingested with the real models into a temporary
store, split in two halves by a seeded hash of the id; the head is trained on the first half's (text,
image) pairs, the first half is then deleted, and every query runs over the second half only.

- text: "{colour}{kind}" in Chinese and "{colour} {kind}" in English (红色连衣裙, "red dress"); relevant =
  the products of that kind (subtype) and colour;
- image: a product's own picture, perturbed (crop, flip, brightness; seeded), as a photo upload; relevant
  = the other products of its category and colour (the product itself is filtered out);
- like this one: `similar_products` of a product; relevant = the other products of its category and colour.

Queries without any relevant product are left out. Modes: lexical / dense / hybrid rank text only; image
ranks by product images (a text query through the head: text-to-image search); early / mid / late are the
fusion strategies of `SearchRequest.fusion`. For a query with one side, early and late equal that side
alone (nothing to fuse); mid adds the head's cross-modal cosine.
"""

from __future__ import annotations

import random
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageEnhance

from daogou.evals.metrics import mean_metrics
from daogou.evals.retrieval import request_fields
from daogou.ingest.demo import build_demo_catalog
from daogou.ingest.demo_data import COLOURS
from daogou.ingest.filters import Filters
from daogou.ingest.pipeline import ingest_catalogs
from daogou.ingest.schema import Product
from daogou.ingest.store import ProductStore, open_store
from daogou.settings import Settings
from daogou.tools.align import (
    AlignConfig,
    alignment_recall,
    catalog_pairs,
    catalog_signature,
    head_path,
    save_head,
    split_ids,
    train_head,
)
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.recommend import similar_products
from daogou.tools.search import SearchRequest, search_products

__all__ = ["TASK_MODES", "Halves", "demo_halves", "perturb", "prepare_halves", "run_fusion_eval", "score_tasks"]

TASK_MODES: dict[str, tuple[str, ...]] = {
    "text": ("lexical", "dense", "hybrid", "image", "early", "mid", "late"),
    "image": ("image", "early", "mid", "late"),
    "like": ("text", "image", "early", "mid", "late"),
}


def perturb(image: Image.Image, rng: random.Random) -> Image.Image:
    """A photo-like copy of a product picture: random crop (80-95% per side), maybe mirrored, brightness ±15%."""
    img = image.convert("RGB")
    w, h = img.size
    cw, ch = int(w * rng.uniform(0.80, 0.95)), int(h * rng.uniform(0.80, 0.95))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    img = img.crop((x, y, x + cw, y + ch)).resize((w, h))
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return ImageEnhance.Brightness(img).enhance(rng.uniform(0.85, 1.15))


def _kind(p: Product) -> tuple[str, str]:
    """(zh, en) name of the product's subtype, from the demo catalog's tags [category, kind en, kind zh, ...]."""
    return (p.tags[2], p.tags[1]) if len(p.tags) >= 3 else (p.category, p.category)


def _text_queries(products: list[Product]) -> list[tuple[str, list[str]]]:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for p in products:
        groups[(p.attributes.get("颜色", ""), _kind(p)[0])].append(p.id)
    by_zh = {_kind(p)[0]: _kind(p)[1] for p in products}
    out = []
    for (colour, kind), ids in sorted(groups.items()):
        if not colour:
            continue
        out.append((f"{colour}{kind}", ids))
        out.append((f"{COLOURS[colour][0]} {by_zh[kind]}" if colour in COLOURS else f"{colour} {kind}", ids))
    return out


def _look_alikes(products: list[Product]) -> dict[str, list[str]]:
    """id -> the other products of its category and colour."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for p in products:
        groups[(p.category, p.attributes.get("颜色", ""))].append(p.id)
    return {p.id: [i for i in groups[(p.category, p.attributes.get("颜色", ""))] if i != p.id] for p in products}


def _ingest_demo(settings: Settings, folder: Path) -> tuple[ProductStore, Path]:
    catalog = build_demo_catalog(folder / "demo")
    store = open_store(settings)
    report = ingest_catalogs([catalog], store, settings, progress=False)
    if report.written == 0:
        raise ValueError(f"the demo catalog did not load: {report.summary()}")
    return store, catalog


def run_fusion_eval(settings: Settings, *, k: int = 10, seed: int = 0, config: AlignConfig | None = None,
                    limit: int | None = None, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The comparison tables: {"text"|"image"|"like": {mode: metrics}}, plus "head" (how the head was trained,
    its held-out paired recall) and "queries" (how many of each). `limit` caps the queries per task."""
    say = progress or (lambda _m: None)
    with demo_halves(settings, seed=seed, config=config or AlignConfig(seed=seed), limit=limit, say=say) as h:
        return {**score_tasks(h, k=k, say=say), "head": h.head,
                "queries": {"text": len(h.text_queries), "image": len(h.photos), "like": len(h.seeds)}, "k": k}


@contextmanager
def demo_halves(settings: Settings, *, seed: int, config: AlignConfig, limit: int | None,
                say: Callable[[str], None]) -> Iterator[Halves]:
    """The demo catalog ingested into a temporary store and home, split by `prepare_halves`; removed after."""
    with tempfile.TemporaryDirectory(prefix="daogou-fusion-") as tmp:
        folder = Path(tmp)
        tmp_settings = settings.with_(home=folder, models_path=settings.models_dir, ephemeral=True, chroma_url=None,
                                      store_dir=None, collection_prefix=f"fusion-{uuid.uuid4().hex[:10]}")
        say("ingesting the demo catalog (real e5 + EfficientNet)")
        store, catalog = _ingest_demo(tmp_settings, folder)
        try:
            yield prepare_halves(store, catalog, tmp_settings, seed=seed, config=config, limit=limit, say=say)
        finally:
            store.drop()


@dataclass
class Halves:
    """The held-out half ready to query: its index (the head trained on the other half is saved for it), the
    labelled queries, and how the head was trained."""

    index: CatalogIndex
    text_queries: list[tuple[str, list[str]]]
    seeds: list[Product]  # products with at least one look-alike: photo and like-this-one queries
    photos: dict[str, Image.Image]
    alike: dict[str, list[str]]
    head: dict[str, Any]


def prepare_halves(store: ProductStore, catalog: Path, settings: Settings, *, seed: int, config: AlignConfig,
                   limit: int | None, say: Callable[[str], None]) -> Halves:
    """Train the head on one half, delete that half from `store`, and build the queries over the other half."""
    ids, text, image = catalog_pairs(store)
    train, test = split_ids(ids, 0.5, seed)
    row = {pid: r for r, pid in enumerate(ids)}
    tr, te = [row[i] for i in train], [row[i] for i in test]
    say(f"training the alignment head on {len(train)} products ({config.epochs} epochs)")
    head, losses = train_head(text[tr], image[tr], config)
    store.delete(train)  # every query now runs over the held-out half only
    save_head(head, head_path(settings), catalog_signature(store))
    index = CatalogIndex(store).refresh()
    products = store.get_products(sorted(index.ids))
    rng = random.Random(seed)
    text_q = _text_queries(products)
    alike = _look_alikes(products)
    seeds = [p for p in products if alike[p.id]]
    if limit is not None:
        text_q, seeds = rng.sample(text_q, min(limit, len(text_q))), rng.sample(seeds, min(limit, len(seeds)))
    photos = {p.id: perturb(Image.open(catalog.parent / p.images[0]), rng) for p in seeds if p.images}
    info = {"train_products": len(train), "held_out_products": len(test), "epochs": config.epochs,
            "dim": config.dim, "seed": config.seed, "first_loss": round(losses[0], 4),
            "final_loss": round(losses[-1], 4), "held_out_recall": alignment_recall(head, text[te], image[te]),
            "chance": {"@1": 1 / len(te), "@10": 10 / len(te)}}
    return Halves(index, text_q, seeds, photos, alike, info)


def score_tasks(h: Halves, *, k: int, say: Callable[[str], None],
                modes: dict[str, tuple[str, ...]] = TASK_MODES) -> dict[str, dict[str, Any]]:
    """{"text"|"image"|"like": {mode: metrics}} over the prepared queries."""
    results: dict[str, dict[str, Any]] = {"text": {}, "image": {}, "like": {}}
    for mode in modes.get("text", ()):
        say(f"text queries, {mode}")
        req = request_fields(mode)
        runs = [([c.id for c in search_products(h.index, SearchRequest(text=q, k=k, **req)).cards], rel)
                for q, rel in h.text_queries]
        results["text"][mode] = mean_metrics(runs, k=k)
    for mode in modes.get("image", ()):
        say(f"image queries, {mode}")
        req = request_fields(mode)
        runs = []
        for p in h.seeds:
            if p.id in h.photos:
                res = search_products(h.index, SearchRequest(image=h.photos[p.id], k=k,
                                                             filters=Filters(exclude_ids=(p.id,)), **req))
                runs.append(([c.id for c in res.cards], h.alike[p.id]))
        results["image"][mode] = mean_metrics(runs, k=k)
    for mode in modes.get("like", ()):
        say(f"like this one, {mode}")
        kw = {"modality": mode} if mode in ("text", "image") else {"modality": "fused", "fusion": mode}
        runs = [([c.id for c in similar_products(h.index, p.id, k=k, **kw).cards], h.alike[p.id]) for p in h.seeds]
        results["like"][mode] = mean_metrics(runs, k=k)
    return results


def format_fusion_report(report: dict[str, Any]) -> str:
    """The tables as text: one block per task, one row per mode, and the head's held-out figures."""
    k = report.get("k", 10)
    lines = []
    names = {"text": "text queries", "image": "image queries (perturbed photo)", "like": "like this one"}
    for task, title in names.items():
        lines.append(f"{title} (n={report['queries'][task]})")
        lines.append(f"  {'mode':<9}{f'nDCG@{k}':>9}{f'MRR@{k}':>9}{f'Recall@{k}':>11}")
        for mode, m in report[task].items():
            lines.append(f"  {mode:<9}{m[f'ndcg@{k}']:>9.3f}{m[f'mrr@{k}']:>9.3f}{m[f'recall@{k}']:>11.3f}")
    h = report["head"]
    r = h["held_out_recall"]
    lines.append(f"alignment head: trained on {h['train_products']} products ({h['epochs']} epochs, dim {h['dim']}), "
                 f"loss {h['first_loss']:.3f} -> {h['final_loss']:.3f}; on the {h['held_out_products']} held-out: "
                 f"text->image R@1 {r['t2i@1']:.3f} R@10 {r['t2i@10']:.3f}, image->text R@1 {r['i2t@1']:.3f} "
                 f"R@10 {r['i2t@10']:.3f} (chance {h['chance']['@1']:.3f} / {h['chance']['@10']:.3f})")
    return "\n".join(lines)

