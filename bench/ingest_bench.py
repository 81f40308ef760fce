"""Ingest throughput of the real pipeline with the real models: text-only, with images, and a re-ingest.

Builds the bundled demo catalog (312 products with drawn images), writes two catalog files from it (one
with the image paths stripped, one as it is), and runs `ingest_catalogs` on each into a fresh persistent
store in a temporary folder, with the real e5 text encoder and the real EfficientNet-Lite0 image encoder.
Then it ingests the unchanged catalog again into the same store (every product should be skipped by its
content hash). The encoders and the Chroma collections are wrapped in timing proxies, so each run is split
into text embedding, image embedding, Chroma writes, Chroma reads and the rest (reading, validation,
image decoding, hashing) on the very same inputs.

    python bench/ingest_bench.py [--n 312] [--batch-size 64] [--json] [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

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
    table,
)


def write_catalogs(demo_catalog: Path, out: Path, n: int | None) -> dict[str, Path]:
    """Two JSONL files from the demo catalog: `text` (no images) and `images` (absolute image paths)."""
    rows = [json.loads(line) for line in demo_catalog.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = rows[:n] if n else rows
    files = {"text": out / "catalog-text.jsonl", "images": out / "catalog-images.jsonl"}
    with_images = [{**r, "images": [str((demo_catalog.parent / p).resolve()) for p in r.get("images", [])]}
                   for r in rows]
    text_only = [{**r, "images": []} for r in rows]
    for path, data in ((files["text"], text_only), (files["images"], with_images)):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in data), encoding="utf-8")
    return files


def run_ingest(name: str, catalog: Path, store: Any, settings: Any, t: Timings) -> dict[str, Any]:
    """One `ingest_catalogs` run, timed and split."""
    from daogou.ingest.pipeline import ingest_catalogs

    t.reset()
    load, c0 = load_average(), cpu_seconds()
    with Stopwatch() as sw:
        report = ingest_catalogs([catalog], store, settings, progress=False)
    cpu = cpu_seconds() - c0
    row: dict[str, Any] = {
        "run": name, "products": report.read, "written": report.written, "unchanged": report.unchanged,
        "seconds": round(sw.s, 2), "products_per_s": rate(report.read, sw.s),
        "ms_per_product": round(sw.ms / max(report.read, 1), 1), "cpu_s": round(cpu, 2), **ingest_split(t, sw.s),
        "stored": store.count(), "stored_images": store.count_images(),
        "image_problems": len(report.image_problems), "rejected": len(report.rejected),
        "rss_mib": rss_mib(), "peak_rss_mib": peak_rss_mib(), "load_avg": load,
    }
    log(f"{name}: {report.summary()}")
    return row


def main(argv: list[str] | None = None) -> int:
    """Run the ingest benchmark and print its table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=None, help="only the first N demo products (default: all 312)")
    ap.add_argument("--batch-size", type=int, default=None, help="products per ingest batch (default: Settings)")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("--env", action="append", metavar="KEY=VALUE",
                    help="set an environment variable before the models load (repeatable), "
                         "e.g. OMP_WAIT_POLICY=PASSIVE")
    ap.add_argument("--keep", action="store_true", help="keep the temporary stores (path printed)")
    ap.add_argument("--render", type=Path, default=None, help="print the table of a saved --json result and exit")
    args = ap.parse_args(argv)
    if args.render:
        print_report(json.loads(args.render.read_text(encoding="utf-8")))
        return 0
    force_offline()
    apply_env(args.env)

    from daogou.ingest.demo import build_demo_catalog
    from daogou.ingest.encoders import image_encoder, text_encoder
    from daogou.ingest.store import E5EmbeddingFunction, EfficientNetEmbeddingFunction, open_store
    from daogou.settings import Settings

    facts = machine_facts()
    work = Path(tempfile.mkdtemp(prefix="daogou-ingest-bench-"))
    result: dict[str, Any] = {"machine": facts, "rows": []}
    try:
        with Stopwatch() as sw:
            demo = build_demo_catalog(bench_home() / "demo")
        result["demo_build_s"] = round(sw.s, 2)
        files = write_catalogs(demo, work, args.n)
        settings = Settings(home=work, threads=2)
        if args.batch_size:
            settings = settings.with_(batch_size=args.batch_size)
        result["batch_size"] = settings.batch_size
        t = Timings()
        with Stopwatch() as sw_text:
            text_enc = text_encoder()
            text_enc.embed_passages(["warm-up"])
        with Stopwatch() as sw_img:
            img_enc = image_encoder(settings.threads)
        result["model_load_s"] = {"text": round(sw_text.s, 2), "image": round(sw_img.s, 2)}
        text_ef = E5EmbeddingFunction(TimedProxy(text_enc, t, "text_encoder"))
        image_ef = EfficientNetEmbeddingFunction(TimedProxy(img_enc, t, "image_encoder"))
        for name in ("text", "images"):
            st_settings = settings.with_(store_dir=work / f"store-{name}")
            with Stopwatch() as sw:
                store = open_store(st_settings, text_ef=text_ef, image_ef=image_ef)
            store.text = TimedProxy(store.text, t, "chroma_text")
            store.images = TimedProxy(store.images, t, "chroma_image")
            first = run_ingest(f"{name}-only" if name == "text" else "with images", files[name], store,
                               st_settings, t)
            first["open_store_s"] = round(sw.s, 3)
            result["rows"].append(first)
            result["rows"].append(run_ingest(f"re-ingest ({name}, unchanged)", files[name], store, st_settings, t))
        result["peak_rss_mib"] = peak_rss_mib()
        result["load_avg_end"] = load_average()
    finally:
        if args.keep:
            log(f"stores kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print_report(result)
    return 0


def print_report(result: dict[str, Any]) -> None:
    """The figures as text for people."""
    print(format_facts(result["machine"]))
    print(f"model load: text {result['model_load_s']['text']} s, image {result['model_load_s']['image']} s; "
          f"batch size {result['batch_size']}; demo catalog build {result['demo_build_s']} s (cached after once)")
    print()
    print(table(result["rows"], [
        ("run", "run"), ("products", "products"), ("written", "written"), ("unchanged", "unchanged"),
        ("seconds", "total s"), ("products_per_s", "products/s"), ("ms_per_product", "ms/product"), ("cpu_s", "CPU s"),
        ("text_embed_s", "text emb s"), ("image_embed_s", "img emb s"), ("chroma_write_s", "chroma w s"),
        ("chroma_read_s", "chroma r s"), ("other_s", "other s"), ("stored_images", "img vecs"),
        ("peak_rss_mib", "peak RSS MiB"),
    ]))
    print()
    print("other = reading + validating rows, decoding image files, hashing, metadata; chroma w = upserts, "
          "deletes and the revision bump (image upsert time less the embedding inside it); "
          f"load avg per run: {[r['load_avg'] for r in result['rows']]}, at end {result['load_avg_end']}")


if __name__ == "__main__":
    sys.exit(main())
