"""`daogou eval recommend` and `daogou eval make-log`: recommendation quality on an interaction log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from daogou.settings import Settings

__all__ = ["eval_make_log", "eval_recommend"]

CatalogOpt = Annotated[Path | None, typer.Option("--catalog", help="Catalog file (JSONL/CSV/Shopify CSV); "
                                                 "default: the built-in demo catalog.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the synthetic log and of the random baseline.")]
UsersOpt = Annotated[int, typer.Option("--users", min=1, max=100_000, help="Simulated shoppers (synthetic log).")]


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(1)


def eval_recommend(
    log: Annotated[Path | None, typer.Option("--log", help='Interaction log (JSONL or CSV of {"user","item",'
                                             '"event","time"}); default: a synthetic log for the catalog.')] = None,
    catalog: CatalogOpt = None,
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="List length scored.")] = 10,
    users: UsersOpt = 1000,
    seed: SeedOpt = 7,
    future: Annotated[float, typer.Option("--future", min=0.05, max=0.9,
                                          help="Share of each user's latest events held out as the future.")] = 0.2,
    include_seen: Annotated[bool, typer.Option("--include-seen", help="Let items seen in the past be recommended "
                                               "and count as hits (default: discovery, they are left out).")] = False,
    diversity: Annotated[float, typer.Option("--diversity", min=0.0, max=1.0,
                                             help="recommend_for_user's MMR diversity (λ = 1 - diversity).")] = 0.3,
    half_life_days: Annotated[float | None, typer.Option("--half-life-days", min=0.01,
                                                         help="Recency decay of the user vector.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
) -> None:
    """Precision/Recall/F1/NDCG@k, coverage, diversity and novelty of "for you" vs popularity and random.

    Each user's latest events are the future; lists are built from the past. Without --log, a synthetic log
    of shoppers with stable tastes is generated for the catalog (and the output says so).
    """
    from daogou.evals.recommend_eval import format_report, run_recommend_eval

    for p in (log, catalog):
        if p is not None and not p.exists():
            raise _fail(f"{p} does not exist")
    try:
        report = run_recommend_eval(Settings.from_env(), log=log, catalog=catalog, users=users, seed=seed, k=k,
                                    future_share=future, exclude_seen=not include_seen, diversity=diversity,
                                    half_life_s=half_life_days * 86400 if half_life_days else None)
    except ValueError as e:
        raise _fail(str(e)) from e
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for err in report["log"]["errors"]:
        typer.echo(f"rejected {err}", err=True)
    typer.echo(format_report(report))


def eval_make_log(
    out: Annotated[Path, typer.Option("--out", help="Where to write the log (.jsonl, or .csv).")],
    catalog: CatalogOpt = None,
    users: UsersOpt = 200,
    seed: SeedOpt = 7,
    noise: Annotated[float, typer.Option("--noise", min=0.0, max=1.0,
                                         help="Share of views that ignore the shopper's taste.")] = 0.15,
) -> None:
    """Write a synthetic interaction log: shoppers with stable tastes (categories, colours, price band) + noise."""
    from daogou.evals.interactions import generate_log, write_log
    from daogou.evals.recommend_eval import load_products

    try:
        products, _ = load_products(catalog)
        rows = generate_log(products, n_users=users, seed=seed, noise=noise)
    except ValueError as e:
        raise _fail(str(e)) from e
    write_log(rows, out)
    typer.echo(f"wrote {len(rows):,} events of {users} users over {len(products)} products to {out}")
