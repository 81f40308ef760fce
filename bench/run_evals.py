"""Run every `daogou eval` command and write the figures to a dated results file (JSON + a markdown table).

Each eval runs as the real CLI in a subprocess with `--json` (its wall time is recorded beside it):

- retrieval: the Chinese product-search dev split (`../shared/data/dev/`), modes hybrid, dense and lexical;
  skipped with a message when that folder is absent;
- recommend: "for you" vs popularity and random on the synthetic interaction log of the demo catalog;
- copy: ROUGE/BLEU of generated copy on a seeded sample of the AdvertiseGen dev set (`--copy-limit`); skipped
  when the data or the `daogou eval copy` command is absent;
- dialogues: the scripted dialogue suite, with fixed sentences only (`--no-llm`) unless `--with-llm`.

    python bench/run_evals.py [--with-llm] [--only recommend --only dialogues] [--copy-limit 10] [--out DIR]

Writes `bench/results/YYYY-MM-DD.json` and `.md` (UTC date; a second run on the same day replaces them), after
every eval, so that an interrupted run keeps what it measured (`"complete": false`).
An eval that fails is recorded with its exit status and the end of its stderr; the others still run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import DAOGOU, ROOT, format_facts, log, machine_facts, run_cli

DEV = ROOT.parent / "shared" / "data" / "dev"
EVALS = ("retrieval", "recommend", "copy", "dialogues")


def _has_command(name: str) -> bool:
    r = subprocess.run(DAOGOU + ["eval", name, "--help"], capture_output=True, text=True, cwd=ROOT, check=False)
    return r.returncode == 0


def _plan(args: argparse.Namespace) -> dict[str, list[str] | str]:
    """Each eval's CLI arguments, or the reason it is skipped."""
    plan: dict[str, list[str] | str] = {}
    corpus, queries = DEV / "dev_corpus.jsonl", DEV / "dev_queries.jsonl"
    plan["retrieval"] = (["eval", "retrieval", "--corpus", str(corpus), "--queries", str(queries), "--mode", "hybrid",
                          "--mode", "dense", "--mode", "lexical", "--json"]
                         if corpus.exists() and queries.exists() else f"skipped: {DEV} not present")
    plan["recommend"] = ["eval", "recommend", "--json"]
    copy_data = DEV / "advertisegen_dev.jsonl"
    if not _has_command("copy"):
        plan["copy"] = "skipped: this checkout has no `daogou eval copy` command"
    elif not copy_data.exists():
        plan["copy"] = f"skipped: {copy_data} not present"
    else:
        plan["copy"] = ["eval", "copy", "--data", str(copy_data), "--limit", str(args.copy_limit), "--json"]
    plan["dialogues"] = ["eval", "dialogues", "--suite", str(ROOT / "tests" / "dialogues"), "--json"] + (
        [] if args.with_llm else ["--no-llm"])
    return {name: plan[name] for name in EVALS if not args.only or name in args.only}


# -- markdown --------------------------------------------------------------------------------------------
def _md_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def _md_section(name: str, entry: dict[str, Any]) -> list[str]:
    lines = [f"## {name}", ""]
    if "result" not in entry:
        return lines + [f"{entry.get('status', 'skipped')}", ""]
    res = entry["result"]
    lines += [f"`{entry['command']}` — {entry['wall_s']} s, {entry['status']}", ""]
    if name == "retrieval":
        modes = res if "n" not in res else {"hybrid": res}
        lines += _md_table(["mode", "nDCG@10", "MRR@10", "Recall@10", "n"],
                           [[m, r["ndcg@10"], r["mrr@10"], r["recall@10"], r["n"]] for m, r in modes.items()])
    elif name == "recommend":
        k, sp = res["k"], res["split"]
        lines += [f"{res['log']['source']}; {sp['protocol']}; {sp['users_evaluated']} users evaluated", ""]
        keys = [f"precision@{k}", f"recall@{k}", f"f1@{k}", f"ndcg@{k}", "coverage", "diversity", "novelty"]
        lines += _md_table(["method", f"P@{k}", f"R@{k}", f"F1@{k}", f"NDCG@{k}", "coverage", "ILD", "novelty"],
                           [[m, *(r[x] for x in keys)] for m, r in res["methods"].items()])
    elif name == "dialogues":
        rep = res["report"]
        lines += [f"turn pass rate {rep['turn_pass_rate']:.3f} ({rep['turns']['passed']}/{rep['turns']['total']}), "
                  f"dialogues {rep['dialogues']['passed']}/{rep['dialogues']['total']}", ""]
        lines += _md_table(["behaviour", "passed", "total", "rate"],
                           [[t, r["passed"], r["total"], r["rate"]] for t, r in sorted(rep["by_tag"].items())])
    else:  # copy and anything newer: the scalar figures as they come
        flat = {k: v for k, v in _flatten(res).items() if isinstance(v, int | float) and not isinstance(v, bool)}
        lines += _md_table(["figure", "value"], [[k, v] for k, v in flat.items()][:40])
    return lines + [""]


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(obj, dict):
        return {prefix: obj}
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if isinstance(v, list):
            continue
        out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--with-llm", action="store_true", help="dialogues with the local LLM (slow on a CPU)")
    ap.add_argument("--only", action="append", choices=EVALS, help="run only these evals (repeatable)")
    ap.add_argument("--copy-limit", type=int, default=10, help="records of the copy eval (seeded sample)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed per eval")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()

    facts = machine_facts()
    log(format_facts(facts))
    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                         check=False).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                text=True, cwd=ROOT, check=False).stdout.strip())
    started = datetime.now(UTC)
    path = args.out / f"{started.strftime('%Y-%m-%d')}.json"
    plan = _plan(args)
    results: dict[str, Any] = {}
    for name, cmd in plan.items():
        if isinstance(cmd, str):
            log(f"{name}: {cmd}")
            results[name] = {"status": cmd}
        else:
            log(f"{name}: daogou {' '.join(cmd)}")
            results[name] = run_cli(cmd, args.timeout)
            log(f"{name}: {results[name]['status']} in {results[name].get('wall_s', '-')} s")
        # written after every eval, so an interrupted run keeps what it measured ("complete": false)
        md = _write(path, started, sha, dirty, facts, args.with_llm, results, complete=len(results) == len(plan))
    print(md)
    log(f"wrote {path} and {path.with_suffix('.md')}")


def _write(path: Path, started: datetime, sha: str, dirty: bool, facts: dict[str, Any], with_llm: bool,
           results: dict[str, Any], *, complete: bool) -> str:
    doc = {"date": started.strftime("%Y-%m-%d"), "started_utc": started.strftime("%H:%M:%S"),
           "finished_utc": datetime.now(UTC).strftime("%H:%M:%S"), "complete": complete, "commit": sha,
           "uncommitted_changes": dirty, "machine": facts, "with_llm": with_llm, "evals": results}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    state = f"commit {sha}" + (", with uncommitted changes" if dirty else "") + ("" if complete else ", incomplete")
    md = [f"# Evaluation results {doc['date']} ({state})", "", format_facts(facts).replace("\n", "  \n"), ""]
    for name, entry in results.items():
        md += _md_section(name, entry)
    text = "\n".join(md)
    path.with_suffix(".md").write_text(text, encoding="utf-8")
    return text

if __name__ == "__main__":
    main()
