"""Search latency (p50/p95 per query shape) at 1k to 1M products, with start-up, store-side RSS and write rates.

Large catalogs are synthesised from the demo products: each synthetic product takes a base product (a
demo product, or a recoloured copy of one) and varies its brand, adjectives, model number, sizes, price
and stock. Embedding 100k texts with the real e5 would take hours on a small CPU, so the base products'
passages are embedded once with the real e5 (cached), and a synthetic product's text vector is
normalise(base vector + gaussian noise), supplied through a bench-only encoder given to
`E5EmbeddingFunction`. Queries are still embedded by the real e5, so query latency includes it. The
large catalogs are text-only; the catalogs up to `--image-size` products (default 1000) also carry the
base product's picture, embedded with the real EfficientNet, to time image queries.

Each size is built once into a cached store (`--rebuild` forces it) by a child process, which writes the
products through `ingest_catalogs` and then builds and saves the search index, as `daogou ingest` does.
A fresh child process then measures what a serving process sees: start-up (open the store, map the saved
index), ~50 Chinese and English shopper queries through `parse_query` + `search_products` as the CLI runs
them (after a warm-up; p50/p95 overall and per query shape, split into parse, index refresh, query
embedding, dense k-NN, BM25, filter mask, vector reads and product fetch), the store side's RSS, and the
k-NN ways of dense.py per filter shape (Chroma's where-filtered HNSW, HNSW over-fetch + mask, exact pass).
A write probe compares `ingest_catalogs` with direct `ProductStore.upsert`.

    python bench/search_bench.py [--sizes 1000,10000,100000] [--repeat 3] [--json] [--rebuild]
    python bench/search_bench.py --sizes 1000,100000,1000000 --json     # the issue's figures (1M: hours)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import (
    Stopwatch,
    TimedProxy,
    Timings,
    apply_env,
    bench_home,
    cpu_seconds,
    force_offline,
    format_facts,
    ingest_split,
    load_average,
    log,
    machine_facts,
    peak_rss_mib,
    rate,
    rss_mib,
    summarize_ms,
    table,
    time_methods,
)
from synthetic import GEN_VERSION, SyntheticTextEncoder, base_vectors, synthetic_encoder, write_synthetic_catalog

QUERIES = [
    "红色连衣裙 300元以内", "不要Nike的跑鞋 42码", "儿童积木玩具", "送女朋友的礼物", "保温杯", "降噪耳机",
    "夏天穿的碎花裙子", "适合跑步的运动鞋 500以内", "纯棉T恤 M码", "黑色双肩包", "猫粮 100元以下",
    "给狗狗买的零食", "不粘锅炒锅", "有货的瑜伽垫", "200到500元的香水", "适合油皮的洗面奶", "编程入门书",
    "小米充电宝", "乐高积木", "办公室用的台灯", "白色运动鞋 39码", "送爸爸的生日礼物 1000元以内",
    "便宜的茶叶", "真丝衬衫", "防水登山靴", "wireless headphones under 500", "red dress",
    "running shoes size 42 not nike", "kids building blocks toy", "gift for my girlfriend",
    "stainless steel thermos", "black laptop backpack", "cat food under 100", "yoga mat in stock",
    "perfume between 200 and 500", "moisturizer for dry skin", "python programming book", "coffee beans",
    "leather boots for winter", "smartwatch with long battery life", "phone under 2000", "sofa cushion",
    "rice cooker", "Sony headphones", "adidas sneakers white size 40", "chocolate gift box",
    "teddy bear for kids", "camping tent", "linen bedding set", "waterproof hiking jacket",
]
STORE_VERSION = 2  # bump when what a build writes changes (2: rows carry a write seq, the index is saved beside)
IMAGE_QUERIES = [("P1003", ""), ("P1040", ""), ("P1080", ""), ("P1120", "便宜一点的"), ("P1160", ""),
                 ("P1200", "同款"), ("P1240", ""), ("P1280", "similar but cheaper")]


def store_dir(args: argparse.Namespace, size: int) -> Path:
    """Cached store folder of one size (key: size, generator version, seed, noise, images, writer)."""
    img = int(size <= args.image_size)
    return (bench_home(args.cache)
            / f"search-v{STORE_VERSION}-n{size}-g{GEN_VERSION}-s{args.seed}-z{args.noise}-img{img}-{args.writer}")


def _open(settings: Any, synth: Any, image_enc: Any) -> Any:
    """The store over the synthetic text encoder; `image_enc` an image encoder or an embedding function."""
    from daogou.ingest.store import E5EmbeddingFunction, EfficientNetEmbeddingFunction, open_store

    image_ef = image_enc if isinstance(image_enc, EfficientNetEmbeddingFunction) else \
        EfficientNetEmbeddingFunction(image_enc)
    return open_store(settings, text_ef=E5EmbeddingFunction(synth), image_ef=image_ef)


# ---------------------------------------------------------------------------------------------- child phases
def write_catalog(args: argparse.Namespace, n: int, folder: Path, first: int, with_images: bool) -> tuple[Path, Any]:
    """Generate products [first, first+n), write them as JSONL in `folder`; return (path, registered encoder)."""
    from daogou.ingest.demo import build_demo_catalog

    image_dir = build_demo_catalog(bench_home(args.cache) / "demo").parent / "images" if with_images else None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "catalog.jsonl"
    write_synthetic_catalog(path, n, args.seed, image_dir, first)
    return path, synthetic_encoder(bench_home(args.cache), n, args.seed, args.noise, image_dir, first)


def write_products(path: Path, store: Any, settings: Any, writer: str, batch: int, t: Timings) -> dict[str, Any]:
    """Write a catalog file with `ingest_catalogs` (pipeline) or straight `ProductStore.upsert` (upsert)."""
    from daogou.ingest.filters import content_hash, product_metadata
    from daogou.ingest.pipeline import ingest_catalogs
    from daogou.ingest.schema import Product
    from daogou.ingest.store import StoreRecord
    from daogou.ingest.text import embedding_text, product_text

    store.text = TimedProxy(store.text, t, "chroma_text")
    store.images = TimedProxy(store.images, t, "chroma_image")
    t.reset()
    c0 = cpu_seconds()
    with Stopwatch() as sw:
        if writer == "pipeline":
            report = ingest_catalogs([path], store, settings.with_(batch_size=batch), progress=sys.stderr.isatty())
            n = report.written
        else:
            lines = path.read_text(encoding="utf-8").splitlines()
            n = len(lines)
            for s in range(0, n, batch):
                products = [Product.model_validate_json(line) for line in lines[s:s + batch]]
                store.upsert([StoreRecord(product=p, text=product_text(p), passage=embedding_text(p),
                                          metadata=product_metadata(p), content_hash=content_hash(p))
                              for p in products])
    return {"writer": writer, "batch": batch, "written": n, "seconds": round(sw.s, 2),
            "products_per_s": rate(n, sw.s), "cpu_s": round(cpu_seconds() - c0, 2), **ingest_split(t, sw.s),
            "calls_s": {k: round(v, 3) for k, v in t.seconds.items()}, "calls": dict(t.calls)}


def phase_build(args: argparse.Namespace) -> dict[str, Any]:
    """Child: synthesise `args.size` products, write them into a fresh cached store, then build its search index
    (what `daogou ingest` does after writing), saved beside the store as a serving process will load it."""
    from daogou.settings import Settings
    from daogou.tools.catalog_index import CatalogIndex

    folder = store_dir(args, args.size)
    shutil.rmtree(folder, ignore_errors=True)
    with_images = args.size <= args.image_size
    with Stopwatch() as sw_gen:
        path, synth = write_catalog(args, args.size, folder, 0, with_images)
    settings = Settings(home=folder, store_dir=folder / "store")
    t = Timings()
    store = _open(settings, TimedProxy(synth, t, "text_encoder"), _image_encoder(with_images, t))
    log(f"writing {args.size:,} products ({args.writer}, batch {args.batch})")
    out = {"size": args.size, "images": with_images, "generate_s": round(sw_gen.s, 2),
           **write_products(path, store, settings, args.writer, args.batch, t),
           "stored": store.count(), "stored_images": store.count_images(),
           "disk_mib": _mib(folder / "store"), "peak_rss_mib": peak_rss_mib(), "load_avg": load_average()}
    log(f"building the search index of {args.size:,} products")
    store.text, store.images = store.text._target, store.images._target  # untimed from here
    with Stopwatch() as sw:
        index = CatalogIndex(store, cache_dir=folder / "cache").refresh()
    out["index_build"] = {"seconds": round(sw.s, 2), **index.last_sync, "disk_mib": _mib(folder / "cache"),
                          "peak_rss_mib": peak_rss_mib()}
    out["built_at"] = time.strftime("%Y-%m-%d %H:%M")
    (folder / "build.json").write_text(json.dumps(out, indent=2))
    return out


def _mib(folder: Path) -> float:
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20, 1)


def _image_encoder(with_images: bool, t: Timings) -> Any:
    """The real EfficientNet (timed) for catalogs with images; else a lazy one that never loads torch."""
    from daogou.ingest.encoders import image_encoder, image_encoder_config
    from daogou.ingest.store import EfficientNetEmbeddingFunction

    if with_images:
        return TimedProxy(image_encoder(2), t, "image_encoder")
    return EfficientNetEmbeddingFunction(expected=image_encoder_config())


def phase_probe(args: argparse.Namespace) -> dict[str, Any]:
    """Child: write the same `args.probe` synthetic products three ways into scratch stores; compare rates."""
    from daogou.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="daogou-write-probe-"))
    rows = []
    try:
        path, synth = write_catalog(args, args.probe, work, 10_000_000, with_images=False)
        for writer, batch in (("pipeline", Settings().batch_size), ("pipeline", 1000), ("upsert", 1000)):
            settings = Settings(home=work, store_dir=work / f"store-{writer}-{batch}")
            t = Timings()
            store = _open(settings, TimedProxy(synth, t, "text_encoder"), _image_encoder(False, t))
            rows.append({**write_products(path, store, settings, writer, batch, t), "load_avg": load_average()})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"products": args.probe, "rows": rows}


PARTS = {"parse": "parse", "store.embed_query": "embed", "dense.nearest_rows": "knn", "index.lexical_scores": "bm25",
         "index.mask": "mask", "index.vectors_of": "vectors", "store.get_products": "products",
         "index.refresh": "refresh", "store.embed_image": "img_embed", "store.nearest_image": "img_knn"}


def query_shape(filters: Any) -> str:
    """What a query's filters constrain: unfiltered, price, category/brand, colour/size, stock, or combined."""
    kinds = [name for name, on in (
        ("price", filters.price_min is not None or filters.price_max is not None),
        ("category/brand", bool(filters.categories or filters.brands or filters.exclude_brands)),
        ("colour/size", bool(filters.colors or filters.sizes)),
        ("stock", bool(filters.in_stock or filters.waterproof))) if on]
    return "unfiltered" if not kinds else kinds[0] if len(kinds) == 1 else "combined"


def run_queries(index: Any, t: Timings, queries: list[tuple[str, Any]], repeat: int) -> list[dict[str, Any]]:
    """Each (text, image) query `repeat` times through parse_query + search_products, as the CLI runs them."""
    import daogou.tools.search as search_module
    from daogou.tools.query import parse_query
    from daogou.tools.search import SearchRequest, search_products

    plans: list[str] = []
    real = search_module.nearest_rows

    def nearest_rows(*a: Any, **kw: Any) -> Any:  # timed, and which plan dense.py chose
        out = real(*a, **kw)
        plans.append(out[2])
        return out

    search_module.nearest_rows = t.wrap("dense.nearest_rows", nearest_rows)
    out = []
    try:
        for _ in range(repeat):
            for text, image in queries:
                t.reset()
                plans.clear()
                c0, t0 = cpu_seconds(), time.perf_counter()
                parsed = parse_query(text, index.vocabulary)
                t1 = time.perf_counter()
                res = search_products(index, SearchRequest(text=parsed.text if text.strip() else "", image=image,
                                                           filters=parsed.filters, k=10))
                t2, c2 = time.perf_counter(), cpu_seconds()
                parts = {PARTS[k]: round(v * 1000, 2) for k, v in t.seconds.items() if k in PARTS}
                out.append({"query": text, "image": image is not None, "filtered": not parsed.filters.is_empty(),
                            "shape": ("image+" if image is not None else "") + query_shape(parsed.filters),
                            "plan": plans[0] if plans else "-", "total_ms": (t2 - t0) * 1000,
                            "cpu_ms": (c2 - c0) * 1000, "parse": (t1 - t0) * 1000, "search_ms": (t2 - t1) * 1000,
                            "relaxed": res.relaxed, "n": len(res.cards), "timings_ms": res.timings_ms, **parts})
    finally:
        search_module.nearest_rows = real
    return out


def query_image(pid: str, image_dir: Path) -> Any:
    """A shopper's photo of a demo product: cropped, rotated a little and resized."""
    from PIL import Image

    img = Image.open(image_dir / f"{pid}.png").convert("RGB")
    w, h = img.size
    img = img.crop((w // 10, h // 10, w - w // 12, h - h // 12)).rotate(4, fillcolor=(255, 255, 255))
    return img.resize((300, 300))


def _parts_p50(records: list[dict[str, Any]]) -> dict[str, float]:
    parts = sorted({k for r in records for k in PARTS.values() if k in r})
    return {p: round(float(np.median([r.get(p, 0.0) for r in records])), 2) for p in parts} if records else {}


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """p50/p95 overall, per query shape, filtered and unfiltered, CPU time, and the median of each part."""
    filtered = [r for r in records if r["filtered"]]
    unfiltered = [r for r in records if not r["filtered"]]
    shapes = sorted({r["shape"] for r in records})
    return {
        "all": summarize_ms([r["total_ms"] for r in records]),
        "cpu": summarize_ms([r["cpu_ms"] for r in records]),
        "filtered": summarize_ms([r["total_ms"] for r in filtered]),
        "unfiltered": summarize_ms([r["total_ms"] for r in unfiltered]),
        "by_shape": {sh: summarize_ms([r["total_ms"] for r in records if r["shape"] == sh]) for sh in shapes},
        "plans": {p: sum(r["plan"] == p for r in records) for p in sorted({r["plan"] for r in records})},
        "parts_p50_ms": _parts_p50(records),
        "parts_p50_ms_filtered": _parts_p50(filtered),
        "parts_p50_ms_unfiltered": _parts_p50(unfiltered),
        "timings_ms_p50": {k: round(float(np.median([r["timings_ms"][k] for r in records])), 1)
                           for k in ("index", "search")},
        "relaxed_share": round(sum(r["relaxed"] for r in records) / max(1, len(records)), 2),
    }


KNN_SHAPES = [  # (label, Filters fields): from none to narrow, as shoppers' words produce them
    ("none", {}), ("category 服装", {"categories": ("服装",)}), ("price <= 300", {"price_max": 300}),
    ("in stock", {"in_stock": True}), ("colour 红色", {"colors": ("红色",)}),
    ("brand 耐克 Nike", {"brands": ("耐克 Nike",)}),
    ("鞋靴 + 黑色 + 42 + <= 500", {"categories": ("鞋靴",), "colors": ("黑色",), "sizes": ("42",), "price_max": 500}),
]


def knn_shapes(index: Any, queries: list[str], repeat: int = 3) -> list[dict[str, Any]]:
    """Per filter shape: rows let through, and the ms of Chroma's where-filtered HNSW, the HNSW over-fetch + mask
    and the exact pass (dense.py's three ways), with the over-fetch's recall@50 against the exact pass."""
    from daogou.ingest.filters import Filters
    from daogou.tools import dense

    repeat = 1 if len(index) >= 500_000 else repeat  # Chroma's where-filtered search takes seconds there
    vectors = [index.store.embed_query(q) for q in queries[:repeat]]
    n, k, rows = len(index), 50, []
    for label, fields in KNN_SHAPES:
        filters = Filters(**fields)
        mask = index.mask(filters)
        m = int(mask.sum())
        row: dict[str, Any] = {"shape": label, "rows": m, "share": round(m / max(n, 1), 4), "plan": dense.plan(n, m, k)}
        if m == 0:
            rows.append(row)
            continue
        timings: dict[str, list[float]] = {"chroma_where_ms": [], "hnsw_mask_ms": [], "exact_ms": []}
        recall = []
        fetch = dense._fetch(n, m, k)
        row["fetch"] = fetch
        for v in vectors:
            with Stopwatch() as sw:
                index.store.nearest_text(v, k, filters.to_where())
            timings["chroma_where_ms"].append(sw.ms)
            with Stopwatch() as sw:
                got, _ = dense._hnsw(index, index.store.nearest_text(v, fetch), None if m == n else mask)
            timings["hnsw_mask_ms"].append(sw.ms)
            with Stopwatch() as sw:
                exact, _ = dense.exact(index, v, k, mask)
            timings["exact_ms"].append(sw.ms)
            recall.append(len(set(got[:k].tolist()) & set(exact.tolist())) / max(len(exact), 1))
        row.update({key: round(float(np.median(val)), 1) for key, val in timings.items()})
        row["hnsw_recall50"] = round(float(np.mean(recall)), 3)
        rows.append(row)
    return rows


def phase_measure(args: argparse.Namespace) -> dict[str, Any]:
    """Child: a fresh process, as `daogou serve` starts: open the store, load the saved index, answer queries."""
    out: dict[str, Any] = {"size": args.size, "rss_start_mib": rss_mib()}
    folder = store_dir(args, args.size)
    with_images = args.size <= args.image_size
    with Stopwatch() as sw:
        from daogou.ingest.encoders import text_encoder
        from daogou.settings import Settings
        from daogou.tools.catalog_index import CatalogIndex
    out["import_s"] = round(sw.s, 2)
    with Stopwatch() as sw:
        real = text_encoder()
    out["e5_load_s"] = round(sw.s, 2)
    t = Timings()
    with Stopwatch() as sw:  # torch import + EfficientNet weights: paid by the first image query of a process
        image_enc = _image_encoder(with_images, t)
    out["image_model_load_s"] = round(sw.s, 2) if with_images else None
    out["rss_models_mib"] = rss_mib()
    settings = Settings(home=folder, store_dir=folder / "store")
    synth = SyntheticTextEncoder(real, base_vectors(bench_home(args.cache))[0], args.noise, args.seed)
    with Stopwatch() as sw_start:
        with Stopwatch() as sw:
            store = _open(settings, synth, image_enc)
        out["open_store_s"] = round(sw.s, 3)
        with Stopwatch() as sw:  # as `daogou serve` opens it: Chroma's HNSW is loaded by a thread aside
            index = CatalogIndex(store, cache_dir=folder / "cache", background=True).refresh()
        out["index_load_s"] = round(sw.s, 3)
    out["startup_s"] = round(sw_start.s, 3)  # store open + index ready (the models are loaded apart)
    with Stopwatch() as sw:
        index.settle()
    out["hnsw_warm_s"] = round(sw.s, 2)  # what remained of the HNSW load (a serving process loads its LLM then)
    out["index_load"] = index.last_sync
    out.update(products=len(index), rss_index_mib=rss_mib())
    with Stopwatch() as sw_same:
        index.refresh()
    out["refresh_unchanged_ms"] = round(sw_same.ms, 2)
    time_methods(store, ["embed_query", "get_products", "embed_image", "nearest_image"], t, "store")
    time_methods(index, ["lexical_scores", "mask", "refresh", "vectors_of"], t, "index")
    text_queries = [(q, None) for q in QUERIES]
    first = run_queries(index, t, text_queries[:1], 1)[0]
    out["first_query_ms"] = round(first["total_ms"], 1)
    run_queries(index, t, text_queries, 1)  # warm-up
    records = run_queries(index, t, text_queries, args.repeat)
    out["text"] = summarize(records)
    per_query: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        per_query.setdefault(r["query"], []).append(r)
    out["per_query_p50_ms"] = {q: round(float(np.median([r["total_ms"] for r in v])), 1) for q, v in per_query.items()}
    out["per_query_knn_p50_ms"] = {q: round(float(np.median([r.get("knn", 0.0) for r in v])), 1)
                                   for q, v in per_query.items()}
    if with_images and store.count_images():
        image_dir = bench_home(args.cache) / "demo" / "images"
        img_queries = [(text, query_image(pid, image_dir)) for pid, text in IMAGE_QUERIES]
        run_queries(index, t, img_queries, 1)  # warm-up (loads nothing new: the encoder is loaded)
        out["image"] = summarize(run_queries(index, t, img_queries, args.repeat))
    out.update(rss_end_mib=rss_mib(), peak_rss_mib=peak_rss_mib(), load_avg=load_average())
    out["store_rss_mib"] = round(out["rss_end_mib"] - out["rss_models_mib"], 1)  # the store side, models apart
    log(f"k-NN by query shape at {args.size:,}")
    out["knn_shapes"] = knn_shapes(index, QUERIES)
    out["exact_agreement"] = exact_agreement(index, QUERIES)
    return out


def exact_agreement(index: Any, queries: list[str]) -> dict[str, float]:
    """Share of the top-10 that the chosen plans give and an all-exact dense pass would give too (the HNSW is
    approximate; the pool is rescored exactly, so most of its misses never reach the top 10)."""
    from daogou.tools import dense
    from daogou.tools.query import parse_query
    from daogou.tools.search import SearchRequest, search_products

    def top10(text: str) -> list[str]:
        parsed = parse_query(text, index.vocabulary)
        return [c.id for c in search_products(index, SearchRequest(text=parsed.text, filters=parsed.filters)).cards]

    chosen = {q: top10(q) for q in queries}
    saved = dense.plan
    dense.plan = lambda n_total, n_masked, k: "exact"  # every query, unfiltered ones too
    try:
        exact = {q: top10(q) for q in queries}
    finally:
        dense.plan = saved
    shares = {q: len(set(chosen[q]) & set(exact[q])) / max(len(exact[q]), 1) for q in queries}
    worst = min(shares, key=shares.__getitem__)
    return {"overlap_at_10": round(float(np.mean(list(shares.values()))), 3), "min": round(shares[worst], 2),
            "worst_query": worst}


# ---------------------------------------------------------------------------------------------- parent
def child(args: argparse.Namespace, phase: str, size: int = 0) -> dict[str, Any]:
    """Run one phase in a fresh Python process and return its JSON result."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result = Path(f.name)
    cmd = [sys.executable, __file__, "--phase", phase, "--size", str(size), "--result", str(result),
           "--seed", str(args.seed), "--noise", str(args.noise), "--repeat", str(args.repeat),
           "--image-size", str(args.image_size), "--writer", args.writer, "--batch", str(args.batch),
           "--probe", str(args.probe)] + (["--cache", str(args.cache)] if args.cache else [])
    try:
        with Stopwatch() as sw:
            proc = subprocess.run(cmd, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"search_bench: the {phase} phase for size {size} failed (exit {proc.returncode}); "
                             "see its output above")
        out = json.loads(result.read_text())
    finally:
        result.unlink(missing_ok=True)
    out["wall_s"] = round(sw.s, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    """Build (or reuse) the stores, measure each size in a fresh process, print the tables or JSON."""
    from daogou.settings import Settings

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="catalog sizes, comma-separated")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over the queries (after one warm-up)")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("--env", action="append", metavar="KEY=VALUE",
                    help="set an environment variable before the models load (repeatable), "
                         "e.g. OMP_WAIT_POLICY=PASSIVE")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached stores")
    ap.add_argument("--cache", type=Path, default=None, help="folder of the cached stores (default <tmp>/daogou-bench)")
    ap.add_argument("--image-size", type=int, default=1000, help="sizes up to this carry real image vectors")
    ap.add_argument("--writer", choices=("pipeline", "upsert"), default="pipeline",
                    help="build stores with ingest_catalogs (pipeline) or ProductStore.upsert")
    ap.add_argument("--batch", type=int, default=Settings().batch_size, help="products per write batch")
    ap.add_argument("--probe", type=int, default=2000, help="products in the write-rate probe (0: skip it)")
    ap.add_argument("--noise", type=float, default=0.012,
                    help="std of the gaussian noise per vector dimension (0.012: cosine to base ~0.973, as measured)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--render", type=Path, default=None, help="print the tables of a saved --json result and exit")
    ap.add_argument("--phase", choices=("build", "measure", "probe"), help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    apply_env(args.env)  # before force_offline: an OMP_WAIT_POLICY given here is not overridden
    force_offline()
    if args.render:
        print_report(json.loads(args.render.read_text(encoding="utf-8")))
        return 0
    if args.phase:
        phase = {"build": phase_build, "measure": phase_measure, "probe": phase_probe}[args.phase]
        args.result.write_text(json.dumps(phase(args), ensure_ascii=False))
        return 0
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError as e:
        raise SystemExit(f"--sizes {args.sizes!r}: give whole numbers separated by commas, e.g. 1000,10000") from e
    if args.writer == "upsert" and any(s <= args.image_size for s in sizes):
        log("note: the upsert writer writes text only; image queries need --writer pipeline")
    result: dict[str, Any] = {"machine": machine_facts(), "sizes": [], "repeat": args.repeat, "noise": args.noise,
                              "queries": len(QUERIES)}
    vecs, embed_s = base_vectors(bench_home(args.cache))
    result["base_vectors"] = {"n": len(vecs), "embed_s": round(embed_s, 1), "cached": embed_s == 0.0}
    if args.probe:
        log(f"write probe: {args.probe} products three ways")
        result["write_probe"] = child(args, "probe")
    for size in sizes:
        folder = store_dir(args, size)
        built = args.rebuild or not (folder / "build.json").exists()
        if built:
            log(f"building the {size:,}-product store in {folder}")
            child(args, "build", size)
        build = {**json.loads((folder / "build.json").read_text()), "cached": not built}
        log(f"measuring {size:,} products")
        result["sizes"].append({"size": size, "build": build, "measure": child(args, "measure", size)})
    result["load_avg_end"] = load_average()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print_report(result)
    return 0


def print_report(result: dict[str, Any]) -> None:
    """The figures as text tables for people."""
    print(format_facts(result["machine"]))
    bv = result["base_vectors"]
    how = "cached" if bv["cached"] else f"embedded in {bv['embed_s']} s"
    print(f"base vectors: {bv['n']} real e5 passages ({how}); synthetic vectors = normalise(base + "
          f"N(0, {result['noise']}^2)); {result['queries']} text queries x {result['repeat']} passes after a "
          f"warm-up; load avg at end {result['load_avg_end']}")
    if "write_probe" in result:
        wp = result["write_probe"]
        print(f"\nwrite probe: {wp['products']:,} synthetic text-only products into an empty store")
        print(table(wp["rows"], [("writer", "writer"), ("batch", "batch"), ("seconds", "s"),
                                 ("products_per_s", "products/s"), ("cpu_s", "CPU s"),
                                 ("text_embed_s", "synth emb s"),
                                 ("chroma_write_s", "chroma w s"), ("chroma_read_s", "chroma r s"),
                                 ("other_s", "other s"), ("load_avg", "load avg")]))
    sizes = result["sizes"]
    print("\nstore build (synthetic text vectors: no e5 time; cached stores show the figures of the run that built "
          "them)")
    print(table([{**s["build"], "size": s["size"]} for s in sizes], [
        ("size", "products"), ("images", "images"), ("cached", "cached"), ("writer", "writer"), ("batch", "batch"),
        ("generate_s", "generate s"), ("seconds", "write s"), ("products_per_s", "products/s"), ("cpu_s", "CPU s"),
        ("image_embed_s", "img emb s"), ("chroma_write_s", "chroma w s"), ("chroma_read_s", "chroma r s"),
        ("other_s", "other s"), ("disk_mib", "disk MiB"), ("peak_rss_mib", "peak RSS MiB"), ("load_avg", "load avg")]))
    print("\nsearch index build after the write (full read of the store; `daogou ingest` does it once at its end)")
    rows = [{"size": s["size"], **s["build"].get("index_build", {}), **s["build"].get("index_build", {}).get("parts",
                                                                                                         {})}
            for s in sizes]
    print(table(rows, [("size", "products"), ("seconds", "total s"), ("read_s", "read s"), ("table_s", "table s"),
                       ("tokenize_s", "tokenise s"), ("bm25_s", "bm25 s"), ("vocabulary_s", "vocabulary s"),
                       ("save_s", "save s"), ("disk_mib", "disk MiB"), ("peak_rss_mib", "peak RSS MiB")]))
    print("\nstart-up (fresh process: open the store, map the saved index; models loaded before, apart)")
    rows = [{"size": s["size"], **s["measure"]} for s in sizes]
    print(table(rows, [
        ("size", "products"), ("import_s", "import s"), ("e5_load_s", "e5 load s"),
        ("image_model_load_s", "img model s"),
        ("open_store_s", "open store s"), ("index_load_s", "index load s"), ("startup_s", "start-up s"),
        ("hnsw_warm_s", "then HNSW warm s"),
        ("refresh_unchanged_ms", "unchanged refresh ms"), ("first_query_ms", "1st query ms"),
        ("rss_models_mib", "RSS models MiB"), ("store_rss_mib", "store-side RSS MiB"), ("peak_rss_mib", "peak RSS MiB"),
        ("load_avg", "load avg")]))
    print("\nsearch latency, ms (parse_query + search_products, k=10), by query shape")
    lat = []
    for s in sizes:
        m = s["measure"]
        for kind in ("all", "unfiltered", "filtered", "cpu"):
            label = "text all, CPU ms" if kind == "cpu" else f"text {kind}"
            lat.append({"size": s["size"], "kind": label, **m["text"][kind]})
        for shape, figures in m["text"].get("by_shape", {}).items():
            lat.append({"size": s["size"], "kind": f"  shape: {shape}", **figures})
        if "image" in m:
            lat.append({"size": s["size"], "kind": "image (+text)", **m["image"]["all"]})
            for shape, figures in m["image"].get("by_shape", {}).items():
                lat.append({"size": s["size"], "kind": f"  shape: {shape}", **figures})
            lat.append({"size": s["size"], "kind": "image, CPU ms", **m["image"]["cpu"]})
    print(table(lat, [("size", "products"), ("kind", "queries"), ("n", "n"), ("p50", "p50"), ("p95", "p95"),
                      ("mean", "mean"), ("max", "max")]))
    print("\nmedian split, ms (timings_ms: index = refresh check, search = the rest); dense plans chosen")
    parts = []
    for s in sizes:
        for kind in ("text", "text unfiltered", "text filtered", "image"):
            m = s["measure"].get(kind.split()[0])
            which = {"text unfiltered": "parts_p50_ms_unfiltered", "text filtered": "parts_p50_ms_filtered"}
            if m is None or which.get(kind, "parts_p50_ms") not in m:
                continue
            row = {"size": s["size"], "kind": kind, **m.get(which.get(kind, "parts_p50_ms"), {})}
            if kind in ("text", "image"):
                row.update({f"t_{k}": v for k, v in m["timings_ms_p50"].items()}, relaxed_share=m["relaxed_share"],
                           plans=" ".join(f"{p}:{c}" for p, c in m.get("plans", {}).items()))
            parts.append(row)
    print(table(parts, [("size", "products"), ("kind", "kind"), ("parse", "parse"), ("refresh", "refresh"),
                        ("embed", "e5 query"), ("knn", "dense knn"), ("bm25", "bm25"), ("mask", "mask"),
                        ("vectors", "vectors"), ("products", "products"), ("img_embed", "img embed"),
                        ("img_knn", "img knn"), ("t_index", "t.index"), ("t_search", "t.search"),
                        ("relaxed_share", "relaxed"), ("plans", "plans")]))
    print("\nk-NN by filter shape, top-50, median ms over 3 real query vectors (dense.py picks `plan`)")
    shapes = [{"size": s["size"], **r} for s in sizes for r in s["measure"].get("knn_shapes", [])]
    print(table(shapes, [("size", "products"), ("shape", "filter"), ("rows", "rows passing"), ("share", "share"),
                         ("chroma_where_ms", "chroma where ms"), ("fetch", "hnsw fetch"),
                         ("hnsw_mask_ms", "hnsw+mask ms"), ("hnsw_recall50", "hnsw recall@50"),
                         ("exact_ms", "exact ms"), ("plan", "plan")]))
    agreement = [f"{s['size']:,}: {s['measure']['exact_agreement']}" for s in sizes
                 if "exact_agreement" in s["measure"]]
    if agreement:
        print("top-10 shared with an all-exact dense pass: " + "; ".join(agreement))
    if sizes:
        last = sizes[-1]["measure"]["per_query_p50_ms"]
        knn = sizes[-1]["measure"].get("per_query_knn_p50_ms", {})
        slow = sorted(last.items(), key=lambda kv: -kv[1])[:5]
        print(f"\nslowest queries at {sizes[-1]['size']:,} (p50 total / dense knn ms): "
              + "; ".join(f"{q!r} {v} / {knn.get(q, '-')}" for q, v in slow))


if __name__ == "__main__":
    sys.exit(main())
