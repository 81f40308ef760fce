"""`daogou eval copy` and `daogou tune copy`: measure product copy against references; LoRA-tune the LLM for it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from daogou.settings import Settings

__all__ = ["eval_copy", "tune_app"]

tune_app = typer.Typer(help="Tune on the shop's own data: a LoRA copy adapter for the LLM, the text-image "
                       "alignment head.", no_args_is_help=True)

DataOpt = Annotated[Path, typer.Option("--data", help='JSONL of {"content": "k#v*k#v", "summary": "copy"} '
                                                      "(the AdvertiseGen format).")]
PartOpt = Annotated[str, typer.Option("--part", metavar="heldout|train|all",
                                      help="Which records of the seeded split (--heldout, --split-seed) to use.")]
HeldoutOpt = Annotated[float, typer.Option("--heldout", help="Fraction of the records held out for evaluation.")]
SplitSeedOpt = Annotated[int, typer.Option("--split-seed", help="Seed of the train/held-out split.")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _records(data: Path, part: str, heldout: float, split_seed: int, limit: int | None, seed: int) -> list:
    from daogou.evals.copy_data import read_copy_pairs, sample, split_examples

    if not data.is_file():
        raise _fail(f"{data} does not exist; pass --data with an AdvertiseGen-format JSONL file")
    if part not in ("heldout", "train", "all"):
        raise _fail(f"--part {part!r} is not one of heldout, train, all")
    good, bad = read_copy_pairs(data)
    for err in bad:
        typer.echo(f"skipped {data.name}:{err}", err=True)
    if not good:
        raise _fail(f"{data} holds no usable record ({len(bad)} bad lines)")
    train, held = split_examples(good, heldout=heldout, seed=split_seed)
    chosen = {"heldout": held, "train": train, "all": good}[part]
    try:
        return sample(chosen, limit, seed)
    except ValueError as e:
        raise _fail(str(e)) from e


def eval_copy(
    data: DataOpt,
    limit: Annotated[int | None, typer.Option("--limit", help="Evaluate a seeded sample of N records.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the --limit sample.")] = 0,
    part: PartOpt = "heldout",
    heldout: HeldoutOpt = 0.2,
    split_seed: SplitSeedOpt = 0,
    adapter: Annotated[Path | None, typer.Option("--adapter", help="LoRA adapter folder from `daogou tune copy` "
                                                 "(default: DAOGOU_COPY_ADAPTER, else none).")] = None,
    no_adapter: Annotated[bool, typer.Option("--no-adapter", help="Ignore DAOGOU_COPY_ADAPTER.")] = False,
    style: Annotated[str, typer.Option("--style", help="Copy style: 简洁 活泼 高端 促销.")] = "简洁",
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", help="Generation budget per record.")] = 220,
    records: Annotated[Path | None, typer.Option("--records", help="Also write every generated text and its "
                                                 "scores to this JSON file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
) -> None:
    """ROUGE-1/2/L and BLEU-4 of the copywriter's text against reference copy (characters; ROUGE on jieba words too)."""
    from daogou.evals.copy_eval import evaluate_copy, format_copy_report
    from daogou.llm.backends import make_copy_writer, make_writer
    from daogou.model_files import ModelError

    chosen = _records(data, part, heldout, split_seed, limit, seed)
    settings = Settings.from_env()
    adapter = None if no_adapter else (adapter or settings.copy_adapter)
    if settings.llm == "none":
        raise _fail("eval copy needs a model, but DAOGOU_LLM=none; unset it (the embedded engine) or choose one")
    try:  # the engine DAOGOU_LLM chooses; with an adapter, that engine with the adapter applied
        settings = settings.with_(copy_adapter=adapter)
        llm = make_copy_writer(settings) if adapter else make_writer(settings)
    except (OSError, ValueError, ModelError) as e:
        raise _fail(str(e)) from e
    if llm is None:
        raise _fail(f"DAOGOU_LLM={settings.llm} cannot apply a LoRA adapter; run with DAOGOU_LLM=llama (default) or "
                    "transformers, or pass --no-adapter")
    info = getattr(llm, "adapter", None) if adapter else None
    prompt_key = info.prompt_key if info else "prompt"

    def generate(prompt: str) -> str:
        return llm.generate([{"role": "user", "content": prompt}], max_new_tokens=max_new_tokens)

    def stats() -> tuple[int, float]:
        s = llm.last_stats
        return (s.decode_tokens, s.total_s) if s else (0, 0.0)

    def progress(rec: object) -> None:
        if not as_json:
            typer.echo(f"line {rec.line}: rouge-l {100 * rec.scores['rouge-l']:.1f}  {rec.hypothesis[:60]}", err=True)

    report = evaluate_copy(chosen, generate, style=style, prompt_key=prompt_key, stats=stats, on_record=progress,
                           settings={"data": str(data), "part": part, "heldout": heldout, "split_seed": split_seed,
                                     "limit": limit, "seed": seed, "style": style, "prompt_key": prompt_key,
                                     "adapter": str(adapter) if adapter else None, "max_new_tokens": max_new_tokens,
                                     "llm": settings.llm, "threads": settings.threads,
                                     "tokens": "characters (CJK) / words (Latin)"})
    if records:
        records.write_text(json.dumps(report.to_dict(with_records=True), ensure_ascii=False, indent=1),
                           encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        typer.echo(format_copy_report(report))


@tune_app.command("copy")
def tune_copy(
    data: DataOpt,
    out: Annotated[Path | None, typer.Option("--out", help="Adapter folder (default $DAOGOU_HOME/adapters/copy).")]
    = None,
    part: PartOpt = "train",
    heldout: HeldoutOpt = 0.2,
    split_seed: SplitSeedOpt = 0,
    limit: Annotated[int | None, typer.Option("--limit", help="Train on a seeded sample of N records.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the --limit sample and of the shuffling.")] = 0,
    epochs: Annotated[float, typer.Option("--epochs", help="Passes over the examples.")] = 1.0,
    max_steps: Annotated[int | None, typer.Option("--max-steps", help="Stop after this many optimizer steps.")] = None,
    lr: Annotated[float, typer.Option("--lr", help="AdamW learning rate.")] = 2e-4,
    rank: Annotated[int, typer.Option("--rank", help="LoRA rank.")] = 8,
    max_len: Annotated[int, typer.Option("--max-len", help="Longest training sequence in tokens (prompt + copy).")]
    = 192,
    save_every: Annotated[int, typer.Option("--save-every", help="Checkpoint every N steps.")] = 10,
    resume: Annotated[bool, typer.Option("--resume/--no-resume", help="Continue from the checkpoint in --out.")]
    = True,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON summary on stdout.")] = False,
) -> None:
    """LoRA-tune the bundled LLM on attribute -> copy pairs (CPU, progress bar, resumable); save the adapter.

    Use it with DAOGOU_COPY_ADAPTER=<out> or `daogou eval copy --adapter <out>`.
    """
    from daogou.tuning.copy_lora import TuneConfig, TuneError, tune_copy_adapter

    chosen = _records(data, part, heldout, split_seed, limit, seed)
    settings = Settings.from_env()
    cfg = TuneConfig(out=out or settings.home / "adapters" / "copy", epochs=epochs, max_steps=max_steps, lr=lr,
                     rank=rank, max_len=max_len, save_every=save_every, resume=resume, seed=seed,
                     threads=settings.threads, dtype=settings.torch_dtype)
    try:
        info = tune_copy_adapter(chosen, cfg, settings, data_name=str(data))
    except (TuneError, OSError, ValueError) as e:
        raise _fail(str(e)) from e
    if as_json:
        typer.echo(json.dumps(info.__dict__, ensure_ascii=False))
    else:
        typer.echo(f"adapter saved in {cfg.out}: {info.steps} steps on {info.examples} examples in "
                   f"{info.train_s:.0f} s; loss {info.loss_first:.3f} -> {info.loss_last:.3f}")
