"""Run every dialogue suite against the agent — the demo suite, each metamorphic variant, the Taobao-title suite.

Each run is the real CLI (`daogou eval dialogues ... --json`) in a subprocess, with the rules only (`--no-llm`,
the default), with the LLM (`--llm`), or both (`--both`):

- demo: tests/dialogues on the demo catalog (+ catalog_extra.jsonl);
- demo/<variant>: the same, re-keyed by each variant of `daogou.evals.catalog_variants` (sku, num12, en-keys, usd,
  all): a variant should pass as often as the original;
- taobao: tests/dialogues/taobao on the catalog derived from ../shared/data/dev/dev_corpus.jsonl (skipped with a
  message when that file is absent);
- shop/<name>: each suite under tests/dialogues/shops on its own catalog (an English USD retail shop with SKU ids,
  a Chinese appliance shop with 12-digit ids and long warranty and installation texts).

    python bench/agent_suites.py [--llm | --both] [--only demo --only taobao --only demo/usd] [--out DIR]

Writes `bench/results/<UTC date>-agent.json` (every report in full: per turn, failures with reasons) and `.md`
(pass rates per suite, per behaviour tag and per group, failed checks, latency) after every run, so an interrupted
run keeps what it measured (`"complete": false`). Timings need a quiet CPU; pass rates do not.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import ROOT, format_facts, log, machine_facts, run_cli

SHOPS = ROOT / "tests" / "dialogues" / "shops"
TITLES = ROOT.parent / "shared" / "data" / "dev" / "dev_corpus.jsonl"
VARIANTS = ("sku", "num12", "en-keys", "usd", "all")  # daogou.evals.catalog_variants.VARIANTS (not imported:
# the bench runs the CLI of whatever checkout it is in)


def _plan(args: argparse.Namespace) -> dict[str, list[str] | str]:
    """Each run's CLI arguments, or the reason it is skipped; keys are `suite[/variant] (rules|llm)`."""
    suites: dict[str, list[str] | str] = {"demo": ["--suite", str(ROOT / "tests" / "dialogues")]}
    for v in VARIANTS:
        suites[f"demo/{v}"] = ["--suite", str(ROOT / "tests" / "dialogues"), "--variant", v]
    suites["taobao"] = (["--suite", str(ROOT / "tests" / "dialogues" / "taobao"), "--titles", str(TITLES)]
                        if TITLES.exists() else f"skipped: {TITLES} not present")
    for shop in sorted(SHOPS.iterdir()):  # small shop catalogs in the shape of the issue-10 failure reports
        if (shop / "catalog.jsonl").exists():
            suites[f"shop/{shop.name}"] = ["--suite", str(shop), "--catalog", str(shop / "catalog.jsonl")]
    modes = ["rules", "llm"] if args.both else ["llm" if args.llm else "rules"]
    plan: dict[str, list[str] | str] = {}
    for name, cmd in suites.items():
        if args.only and name not in args.only:
            continue
        for mode in modes:
            plan[f"{name} ({mode})"] = cmd if isinstance(cmd, str) else (
                ["eval", "dialogues", *cmd, "--json"] + (["--no-llm"] if mode == "rules" else []))
    return plan


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(str(v) for v in row) + " |" for row in rows]


def _rate(r: dict[str, Any]) -> str:
    return f"{r['passed']}/{r['total']} ({r['passed'] / r['total']:.0%})" if r["total"] else "-"


def _markdown(doc: dict[str, Any]) -> str:
    runs = doc["runs"]
    state = f"commit {doc['commit']}" + (", with uncommitted changes" if doc["uncommitted_changes"] else "") + (
        "" if doc["complete"] else ", incomplete")
    md = [f"# Agent dialogue suites {doc['date']} ({state})", "", format_facts(doc["machine"]).replace("\n", "  \n"),
          "", "Pass rates do not depend on the CPU; latencies do (they need a quiet run).", ""]
    rows = []
    for name, e in runs.items():
        if "result" not in e:
            rows.append([name, e["status"], "", "", "", ""])
            continue
        rep, lat = e["result"]["report"], e["result"]["latency_ms"]
        total = lat.get("total", {})
        rows.append([name, _rate(rep["turns"]), _rate(rep["dialogues"]),
                     ", ".join(f"{k} {n}" for k, n in rep["failures_by_check"].items()) or "-",
                     f"{total.get('p50', '-')} / {total.get('p95', '-')}", e["wall_s"]])
    md += _table(["suite", "turns passed", "dialogues passed", "failed checks", "turn ms p50 / p95", "wall s"], rows)
    tags = sorted({t for e in runs.values() if "result" in e for t in e["result"]["report"]["by_tag"]})
    named = [n for n, e in runs.items() if "result" in e]
    if named:
        md += ["", "## Turn pass rate per behaviour tag", ""]
        md += _table(["tag", *named], [[t, *(_rate(runs[n]["result"]["report"]["by_tag"][t])
                                             if t in runs[n]["result"]["report"]["by_tag"] else "" for n in named)]
                                       for t in tags])
    for name in named:
        rep = runs[name]["result"]["report"]
        md += ["", f"## {name}", "", f"`{runs[name]['command']}`", ""]
        md += _table(["group", "turns passed"], [[g, _rate(r)] for g, r in rep["by_group"].items()])
        failed = [(d["id"], t) for d in rep["results"] for t in d["turns"] if not t["passed"]]
        if failed:
            md += ["", "Failed turns:", ""]
            md += [f"- {did} t{t['turn']} “{t['user'][:60]}”: " + "; ".join(
                f"{f['check']}: {f['reason'][:160]}" for f in t["failures"][:2]) for did, t in failed]
    return "\n".join(md) + "\n"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT, check=False).stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--llm", action="store_true", help="with the configured LLM (slow on a CPU)")
    mode.add_argument("--both", action="store_true", help="each suite with the rules only and with the LLM")
    ap.add_argument("--only", action="append",
                    help="suites to run: demo, demo/<variant>, taobao, shop/<name> (repeatable)")
    ap.add_argument("--timeout", type=float, default=7200, help="seconds allowed per run")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    known = {"demo", "taobao", *(f"demo/{v}" for v in VARIANTS),
             *(f"shop/{p.name}" for p in SHOPS.iterdir() if (p / "catalog.jsonl").exists())}
    if args.only and set(args.only) - known:
        raise SystemExit(f"--only {sorted(set(args.only) - known)}: valid suites are {', '.join(sorted(known))}")

    facts = machine_facts()
    log(format_facts(facts))
    started = datetime.now(UTC)
    doc: dict[str, Any] = {"date": started.strftime("%Y-%m-%d"), "started_utc": started.strftime("%H:%M:%S"),
                           "commit": _git("rev-parse", "--short", "HEAD").strip(),
                           "uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no").strip()),
                           "machine": facts, "complete": False, "runs": {}}
    path = args.out / f"{doc['date']}-agent.json"
    plan = _plan(args)
    for name, cmd in plan.items():
        if isinstance(cmd, str):
            log(f"{name}: {cmd}")
            doc["runs"][name] = {"status": cmd}
        else:
            log(f"{name}: daogou {' '.join(cmd)}")
            doc["runs"][name] = run_cli(cmd, args.timeout)
            log(f"{name}: {doc['runs'][name]['status']} in {doc['runs'][name].get('wall_s', '-')} s")
        doc["complete"] = len(doc["runs"]) == len(plan)
        doc["finished_utc"] = datetime.now(UTC).strftime("%H:%M:%S")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        md = _markdown(doc)
        path.with_suffix(".md").write_text(md, encoding="utf-8")
    print(md)
    log(f"wrote {path} and {path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
