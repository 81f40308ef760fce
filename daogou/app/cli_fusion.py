"""`daogou tune align` (train the mid-fusion head) and `daogou eval fusion` (early / mid / late compared)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from daogou.app.cli_options import ChromaUrlOpt, StoreOpt
from daogou.settings import Settings

__all__ = ["eval_fusion", "tune_align"]


def eval_fusion(
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="Ranks scored (nDCG/MRR/Recall@k).")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the half split, the photo perturbations and "
                                      "the head's initial weights.")] = 0,
    epochs: Annotated[int, typer.Option("--epochs", min=1, max=100_000, help="Head training steps.")] = 300,
    dim: Annotated[int, typer.Option("--dim", min=2, max=2048, help="Size of the head's shared space.")] = 128,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many queries per task "
                                              "(a quick run).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
) -> None:
    """Text queries, photo queries and "like this one" on the demo catalog, every mode on the same queries.

    The head is trained on half of the products and every query runs over the other half (no leakage).
    """
    from daogou.evals.fusion_eval import format_fusion_report, run_fusion_eval
    from daogou.tools.align import AlignConfig

    def say(message: str) -> None:
        typer.echo(message, err=True)

    report = run_fusion_eval(Settings.from_env(), k=k, seed=seed, config=AlignConfig(dim=dim, epochs=epochs, seed=seed),
                             limit=limit, progress=say if sys.stderr.isatty() else None)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    typer.echo(format_fusion_report(report))


def tune_align(
    store: StoreOpt = None,
    chroma_url: ChromaUrlOpt = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1, max=100_000, help="Full-batch training steps.")] = 300,
    dim: Annotated[int, typer.Option("--dim", min=2, max=2048, help="Size of the shared text-image space.")] = 128,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split and of the initial weights.")] = 0,
    held_out: Annotated[float, typer.Option("--held-out", min=0.0, max=0.9,
                                            help="Share of products kept out to measure the head (0: none).")] = 0.2,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
) -> None:
    """Train the text-image alignment head (mid fusion, text-to-image search) on the store's catalog.

    Two linear maps (e5 384-d and EfficientNet 1280-d -> DIM) are fitted with a symmetric InfoNCE loss on the
    catalog's own (text, image) pairs; the encoders stay frozen. Prints paired retrieval on held-out products,
    then refits on all and saves the head under $DAOGOU_HOME/align/. Re-run it after the catalog changes.
    """
    from tqdm import tqdm

    from daogou.ingest.store import StoreError, open_store
    from daogou.tools.align import AlignConfig, fit_catalog_head, head_path

    try:
        settings = Settings.from_env(store_dir=store, chroma_url=chroma_url)
    except ValueError as e:
        typer.secho(f"error: {e}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from e
    config = AlignConfig(dim=dim, epochs=epochs, seed=seed)
    rounds = 2 if held_out > 0 else 1
    try:
        st = open_store(settings)
        with tqdm(total=epochs * rounds, unit="epoch", desc="align", file=sys.stderr,
                  disable=not sys.stderr.isatty()) as bar:
            def tick(_epoch: int, loss: float) -> None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}")

            head, figures = fit_catalog_head(st, config, held_out=held_out, on_epoch=tick)
    except (StoreError, ValueError) as e:
        typer.secho(f"error: {e}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from e
    path = head_path(settings)
    if as_json:
        typer.echo(json.dumps({**figures, "path": str(path), "dim": head.dim, "epochs": epochs}, ensure_ascii=False))
        return
    typer.echo(f"trained on {figures['train']} of {figures['products']} products with an image; "
               f"loss {figures['first_loss']:.3f} -> {figures['final_loss']:.3f}")
    tr = figures["train_recall"]
    typer.echo(f"train:    text->image R@1 {tr['t2i@1']:.3f} R@10 {tr['t2i@10']:.3f}   "
               f"image->text R@1 {tr['i2t@1']:.3f} R@10 {tr['i2t@10']:.3f}")
    if "held_out_recall" in figures:
        ho, ch = figures["held_out_recall"], figures["chance"]
        typer.echo(f"held out ({figures['held_out']}): text->image R@1 {ho['t2i@1']:.3f} R@10 {ho['t2i@10']:.3f}   "
                   f"image->text R@1 {ho['i2t@1']:.3f} R@10 {ho['i2t@10']:.3f}   "
                   f"(chance R@1 {ch['@1']:.3f}, R@10 {ch['@10']:.3f})")
        typer.echo("refitted on every product")
    typer.echo(f"saved {path}")
