"""Ingest throughput of the real pipeline with the real models: text-only, with images, and a re-ingest.

Builds the bundled demo catalog (312 products with drawn images), writes two catalog files from it (one
with the image paths stripped, one as it is), and runs `ingest_catalogs` on each into a fresh persistent
store in a temporary folder, with the real e5 text encoder and the real EfficientNet-Lite0 image encoder.
Then it ingests the unchanged catalog again into the same store (every product should be skipped by its
content hash). The encoders and the Chroma collections are wrapped in timing proxies, so each run is split
into text embedding, image embedding, Chroma writes, Chroma reads and the rest (reading, validation,
image decoding, hashing) on the very same inputs.

    python bench/ingest_bench.py [--n 312] [--batch-size 64] [--json] [--keep]

`--synthetic N` instead ingests N synthetic products (bench/synthetic.py: text vectors synthesised from real e5
vectors, so the figures are the pipeline and Chroma without e5), in a child process that `--kill-at F` kills with
SIGKILL once F x N products are done; a second run then finishes the catalog, and the store is checked to hold
exactly the catalog (every id, no other, every content hash). Both runs update the saved search index as
`daogou ingest` does; a third run with `--change` x N products changed times the index's delta update.

    python bench/ingest_bench.py --synthetic 100000 --kill-at 0.5 [--change 0.01] [--batch-size 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
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
from synthetic import synthetic_encoder, write_synthetic_catalog


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


def passage_tokens(catalog: Path, encoder: Any, row: dict[str, Any]) -> dict[str, Any]:
    """e5 tokens per embedded passage of a catalog, and e5's rate in tokens/s in the run `row` (where the time goes:
    products/s = tokens/s / tokens per passage)."""
    from daogou.ingest.schema import Product
    from daogou.ingest.text import embedding_text

    products = [Product.model_validate_json(line) for line in catalog.read_text(encoding="utf-8").splitlines()]
    tokens = [encoder._model.token_count(embedding_text(p)) for p in products]
    mean = sum(tokens) / max(len(tokens), 1)
    return {"tokens_per_passage": round(mean, 1),
            "e5_tokens_per_s": round(sum(tokens) / row["text_embed_s"]) if row.get("text_embed_s") else None,
            "e5_share": round(row["text_embed_s"] / row["seconds"], 3) if row.get("seconds") else None}


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
    ap.add_argument("--titles", type=Path, default=None, metavar="JSONL",
                    help="also ingest this catalog text-only (e.g. ../shared/data/dev/dev_corpus.jsonl: real titles)")
    ap.add_argument("--render", type=Path, default=None, help="print the table of a saved --json result and exit")
    ap.add_argument("--synthetic", type=int, default=0, metavar="N",
                    help="ingest N synthetic products instead (vectors synthesised: the pipeline without e5)")
    ap.add_argument("--kill-at", type=float, default=0.0, metavar="F",
                    help="with --synthetic: SIGKILL the first run once F x N products are done, then rerun")
    ap.add_argument("--change", type=float, default=0.0, metavar="F",
                    help="with --synthetic: then change the price of F x N products and re-ingest (index delta)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--noise", type=float, default=0.012)
    ap.add_argument("--phase", choices=("synth-ingest",), help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.render:
        saved = json.loads(args.render.read_text(encoding="utf-8"))
        (print_synthetic if "synthetic" in saved else print_report)(saved)
        return 0
    apply_env(args.env)  # before force_offline: an OMP_WAIT_POLICY given here is not overridden
    force_offline()
    if args.phase:
        args.result.write_text(json.dumps(phase_synth_ingest(args), ensure_ascii=False))
        return 0
    if args.synthetic:
        out = synthetic_run(args)
        print(json.dumps(out, ensure_ascii=False, indent=2)) if args.json else print_synthetic(out)
        return 0

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
        settings = Settings(home=work, threads=2, image_roots=(demo.parent,))  # the images sit beside the demo
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
        if args.titles:  # a real shop's titles, text only: how fast e5 goes on passages of that length
            files["titles"] = work / "catalog-titles.jsonl"
            lines = args.titles.read_text(encoding="utf-8").splitlines()[:args.n or None]
            files["titles"].write_text("\n".join(lines) + "\n", encoding="utf-8")
        for name in files:
            st_settings = settings.with_(store_dir=work / f"store-{name}")
            with Stopwatch() as sw:
                store = open_store(st_settings, text_ef=text_ef, image_ef=image_ef)
            store.text = TimedProxy(store.text, t, "chroma_text")
            store.images = TimedProxy(store.images, t, "chroma_image")
            label = {"text": "text-only", "images": "with images", "titles": f"titles only ({args.titles.name})"
                     if args.titles else ""}[name]
            first = run_ingest(label, files[name], store, st_settings, t)
            first.update(open_store_s=round(sw.s, 3), **passage_tokens(files[name], text_enc, first))
            result["rows"].append(first)
            result["rows"].append(run_ingest(f"re-ingest ({name}, unchanged)", files[name], store, st_settings, t))
            if name == "text":  # new prices and stock: the stored text vectors are reused, nothing is embedded
                repriced = work / "catalog-repriced.jsonl"
                rows = [json.loads(line) for line in files[name].read_text(encoding="utf-8").splitlines()]
                repriced.write_text("".join(json.dumps({**r, "price": round(float(r.get("price") or 1) * 1.1, 2),
                                                        "stock": 1 + int(r.get("stock") or 0)}, ensure_ascii=False)
                                            + "\n" for r in rows), encoding="utf-8")
                result["rows"].append(run_ingest("re-ingest, every price and stock changed", repriced, store,
                                                 st_settings, t))
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


# ---------------------------------------------------------------------------------------------- synthetic
def _synth_settings(work: Path, batch: int | None) -> Any:
    from daogou.settings import Settings

    settings = Settings(home=work, store_dir=work / "store")
    return settings.with_(batch_size=batch) if batch else settings


def _synth_store(args: argparse.Namespace, work: Path, n: int) -> Any:
    from daogou.ingest.encoders import image_encoder_config
    from daogou.ingest.store import E5EmbeddingFunction, EfficientNetEmbeddingFunction, open_store

    synth = synthetic_encoder(bench_home(), n, args.seed, args.noise)
    return open_store(_synth_settings(work, args.batch_size), text_ef=E5EmbeddingFunction(synth),
                      image_ef=EfficientNetEmbeddingFunction(expected=image_encoder_config()))


def phase_synth_ingest(args: argparse.Namespace) -> dict[str, Any]:
    """Child: ingest the synthetic catalog (progress on stderr), then update the saved search index."""
    from daogou.ingest.pipeline import ingest_catalogs
    from daogou.tools.catalog_index import CatalogIndex

    work = args.work
    with Stopwatch() as sw_reg:
        store = _synth_store(args, work, args.synthetic)
    t = Timings()
    store.text = TimedProxy(store.text, t, "chroma_text")
    store.images = TimedProxy(store.images, t, "chroma_image")
    store.text_ef._encoder = TimedProxy(store.text_ef._encoder, t, "text_encoder")
    c0 = cpu_seconds()
    with Stopwatch() as sw:
        report = ingest_catalogs([work / "catalog.jsonl"], store, _synth_settings(work, args.batch_size), progress=True)
    row = {"products": report.read, "written": report.written, "unchanged": report.unchanged,
           "seconds": round(sw.s, 2), "products_per_s": rate(report.read, sw.s),
           "written_per_s": rate(report.written, sw.s), "cpu_s": round(cpu_seconds() - c0, 2), **ingest_split(t, sw.s),
           "register_s": round(sw_reg.s, 2)}
    store.text, store.images = store.text._target, store.images._target
    with Stopwatch() as sw:
        index = CatalogIndex(store, cache_dir=work / "cache").refresh()
    row["index"] = {"seconds": round(sw.s, 2), **index.last_sync, "products": len(index)}
    row.update(peak_rss_mib=peak_rss_mib(), load_avg=load_average())
    return row


def _child_ingest(args: argparse.Namespace, work: Path, kill_after: int | None) -> dict[str, Any]:
    """Run phase_synth_ingest in a child; with `kill_after`, SIGKILL it once that many products are done."""
    result = work / "child.json"
    result.unlink(missing_ok=True)
    cmd = [sys.executable, __file__, "--phase", "synth-ingest", "--work", str(work), "--result", str(result),
           "--synthetic", str(args.synthetic), "--seed", str(args.seed), "--noise", str(args.noise)]
    cmd += ["--batch-size", str(args.batch_size)] if args.batch_size else []
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    seen, done, t0 = b"", 0, time.perf_counter()
    assert proc.stderr is not None
    while True:
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            break
        sys.stderr.buffer.write(chunk)
        seen = (seen + chunk)[-4096:]
        counts = [int(x) for x in re.findall(rb"\| *(\d+)/\d+", seen)]
        done = counts[-1] if counts else done
        if kill_after is not None and done >= kill_after:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    if kill_after is not None:
        return {"run": "killed (SIGKILL)", "killed_after": done, "exit": proc.returncode,
                "seconds": round(time.perf_counter() - t0, 2)}
    if proc.returncode != 0:
        raise SystemExit(f"ingest_bench: the synthetic ingest failed (exit {proc.returncode}); see above")
    return {"run": "ingest", **json.loads(result.read_text())}


def synthetic_run(args: argparse.Namespace) -> dict[str, Any]:
    """Ingest N synthetic products (killed half way first, with --kill-at), check the store, time a delta."""
    from daogou.ingest.filters import content_hash
    from daogou.ingest.schema import Product
    from daogou.tools.catalog_index import CatalogIndex

    n = args.synthetic
    work = Path(tempfile.mkdtemp(prefix="daogou-ingest-synth-"))
    result: dict[str, Any] = {"machine": machine_facts(), "synthetic": n, "batch_size": args.batch_size, "rows": []}
    try:
        with Stopwatch() as sw:
            write_synthetic_catalog(work / "catalog.jsonl", n, args.seed)
        result["generate_s"] = round(sw.s, 1)
        if args.kill_at:
            result["rows"].append(_child_ingest(args, work, int(args.kill_at * n)))
        result["rows"].append(_child_ingest(args, work, None))
        log("checking that the store holds exactly the catalog")
        expected = {}
        with (work / "catalog.jsonl").open(encoding="utf-8") as f:
            for line in f:
                p = Product.model_validate_json(line)
                expected[p.id] = content_hash(p)
        args.work = work
        store = _synth_store(args, work, 0)
        index = CatalogIndex(store, cache_dir=work / "cache").refresh()
        stored = {pid: h.split(":")[0] for pid, h in index.content_hashes().items()}
        result["check"] = {"store_count": store.count(), "index_products": len(index), "catalog": len(expected),
                           "missing": len(expected.keys() - stored.keys()),
                           "extra": len(stored.keys() - expected.keys()),
                           "hash_mismatch": sum(stored.get(i) != h for i, h in expected.items() if i in stored)}
        result["check"]["exact"] = (result["check"]["store_count"] == n and not result["check"]["missing"]
                                    and not result["check"]["extra"] and not result["check"]["hash_mismatch"])
        if args.change:
            changed = max(1, int(args.change * n))
            lines = (work / "catalog.jsonl").read_text(encoding="utf-8").splitlines()
            for j in range(0, len(lines), max(1, len(lines) // changed)):
                row = json.loads(lines[j])
                row["price"] = round(float(row.get("price") or 1) * 1.1, 2)
                lines[j] = json.dumps(row, ensure_ascii=False)
            (work / "catalog.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
            result["rows"].append({**_child_ingest(args, work, None), "run": f"re-ingest, {changed:,} changed"})
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["load_avg_end"] = load_average()
    return result


def print_synthetic(result: dict[str, Any]) -> None:
    """The synthetic run's figures for people."""
    print(format_facts(result["machine"]))
    print(f"{result['synthetic']:,} synthetic products (text vectors synthesised: no e5 time), batch "
          f"{result['batch_size'] or 'default'}; catalog generated in {result['generate_s']} s\n")
    rows = [{**r, **{f"index_{k}": v for k, v in r.get("index", {}).items()}} for r in result["rows"]]
    print(table(rows, [("run", "run"), ("killed_after", "killed after"), ("products", "products"),
                       ("written", "written"), ("unchanged", "unchanged"), ("seconds", "s"),
                       ("products_per_s", "products/s"), ("cpu_s", "CPU s"), ("chroma_write_s", "chroma w s"),
                       ("chroma_read_s", "chroma r s"), ("other_s", "other s"), ("index_how", "index"),
                       ("index_rows", "index rows read"), ("index_seconds", "index s"),
                       ("peak_rss_mib", "peak RSS MiB")]))
    print(f"\ncheck: {result['check']}")


def print_report(result: dict[str, Any]) -> None:
    """The figures as text for people."""
    print(format_facts(result["machine"]))
    print(f"model load: text {result['model_load_s']['text']} s, image {result['model_load_s']['image']} s; "
          f"batch size {result['batch_size']}; demo catalog build {result['demo_build_s']} s (cached after once)")
    print()
    print(table(result["rows"], [
        ("run", "run"), ("products", "products"), ("written", "written"), ("unchanged", "unchanged"),
        ("seconds", "total s"), ("products_per_s", "products/s"), ("ms_per_product", "ms/product"), ("cpu_s", "CPU s"),
        ("text_embed_s", "text emb s"), ("e5_share", "e5 share"), ("tokens_per_passage", "e5 tokens/product"),
        ("e5_tokens_per_s", "e5 tokens/s"), ("image_embed_s", "img emb s"), ("chroma_write_s", "chroma w s"),
        ("chroma_read_s", "chroma r s"), ("other_s", "other s"), ("stored_images", "img vecs"),
        ("peak_rss_mib", "peak RSS MiB"),
    ]))
    print()
    print("other = reading + validating rows, decoding image files, hashing, metadata; chroma w = upserts, "
          "deletes and the revision bump (image upsert time less the embedding inside it); "
          f"load avg per run: {[r['load_avg'] for r in result['rows']]}, at end {result['load_avg_end']}")


if __name__ == "__main__":
    sys.exit(main())
