"""Fusion weights on the demo catalog: how early / mid figures move with their weights (one ingest, one head).

Same protocol as `daogou eval fusion` (head trained on one half, queries over the other half; see
daogou/evals/fusion_eval.py), re-scored with the mid weight for photo / like-this-one queries, the mid
weight for text-only queries and the text share of early fusion changed. Prints one table; --json for JSON.

    python bench/fusion_variants.py [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daogou.evals.fusion_eval import demo_halves, score_tasks  # noqa: E402
from daogou.settings import Settings  # noqa: E402
from daogou.tools import fusion, recommend, search  # noqa: E402
from daogou.tools.align import AlignConfig  # noqa: E402

# (name, module attributes to set, which task/modes to score)
VARIANTS = [
    ("mid weight 0.1", {"MID_WEIGHT": 0.1}, {"image": ("mid",), "like": ("mid",)}),
    ("mid weight 0.3 (default)", {"MID_WEIGHT": 0.3}, {"image": ("mid",), "like": ("mid",)}),
    ("mid weight 0.5", {"MID_WEIGHT": 0.5}, {"image": ("mid",), "like": ("mid",)}),
    ("mid text-only weight 0 (default)", {"MID_TEXT_WEIGHT": 0.0}, {"text": ("mid",)}),
    ("mid text-only weight 0.1", {"MID_TEXT_WEIGHT": 0.1}, {"text": ("mid",)}),
    ("mid text-only weight 0.3", {"MID_TEXT_WEIGHT": 0.3}, {"text": ("mid",)}),
    ("early text share 0.5", {"FUSED_TEXT_WEIGHT": 0.5}, {"like": ("early",)}),
    ("early text share 0.7 (default)", {"FUSED_TEXT_WEIGHT": 0.7}, {"like": ("early",)}),
    ("early text share 0.9", {"FUSED_TEXT_WEIGHT": 0.9}, {"like": ("early",)}),
]


def _set(values: dict[str, float]) -> dict[str, float]:
    """Set the weights where search and recommend read them; return the old values."""
    old = {}
    for name, value in values.items():
        for mod in (search, recommend, fusion):
            if hasattr(mod, name):
                old.setdefault(name, getattr(mod, name))
                setattr(mod, name, value)
    return old


def main() -> None:
    """Run every variant on the same prepared halves and print nDCG@10 / MRR@10 per task."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="at most this many queries per task")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    with demo_halves(Settings.from_env(), seed=args.seed, config=AlignConfig(seed=args.seed), limit=args.limit,
                     say=lambda m: print(m, file=sys.stderr, flush=True)) as halves:
        for name, values, modes in VARIANTS:
            old = _set(values)
            try:
                res = score_tasks(halves, k=10, say=lambda _m: None, modes=modes)
            finally:
                _set(old)
            for task, by_mode in res.items():
                for mode, m in by_mode.items():
                    rows.append({"variant": name, "task": task, "mode": mode, "ndcg@10": round(m["ndcg@10"], 3),
                                 "mrr@10": round(m["mrr@10"], 3), "n": m["n"]})
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    print(f"{'variant':<34}{'task':<7}{'mode':<7}{'nDCG@10':>9}{'MRR@10':>9}{'n':>6}")
    for r in rows:
        print(f"{r['variant']:<34}{r['task']:<7}{r['mode']:<7}{r['ndcg@10']:>9.3f}{r['mrr@10']:>9.3f}{r['n']:>6}")


if __name__ == "__main__":
    main()
