"""recommend_for_user's settings (MMR diversity, recency half-life) on the synthetic log, against the baselines.

Builds the demo catalog store once (real e5, text only), generates the synthetic log, and scores every
variant with the same split as `daogou eval recommend`, under both protocols (discovery: past items left out;
repeats: only past purchases and dislikes left out). Prints one table per protocol; `--json` for one object.

    python bench/recommend_variants.py [--users 1000] [--seed 7] [--k 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

from common import format_facts, log, machine_facts, table

from daogou.evals.recommend_eval import evaluate_recommend, load_log, load_products, split_log, temporary_index
from daogou.settings import Settings

DIVERSITY = (0.0, 0.1, 0.3, 0.5)
HALF_LIFE_DAYS = (None, 14.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    k = args.k
    products, _ = load_products(None)
    read, source = load_log(None, products, users=args.users, seed=args.seed)
    log(f"log: {source}, {len(read.events)} events")
    out = {"machine": machine_facts(), "log": source, "k": k, "protocols": {}}
    with temporary_index(Settings.from_env(), products) as index:
        for exclude_seen, name in ((True, "discovery"), (False, "repeats")):
            split = split_log(read.events, exclude_seen=exclude_seen)
            rows = []
            for half in HALF_LIFE_DAYS:
                for div in DIVERSITY:
                    res = evaluate_recommend(index, split, k=k, seed=args.seed, diversity=div,
                                             half_life_s=half * 86400 if half else None, exclude_seen=exclude_seen)
                    if not rows:  # the baselines do not depend on the variant
                        rows += [{"method": m, **res[m]} for m in ("popularity", "random")]
                    label = f"for_you div={div} half-life={f'{half:g}d' if half else 'none'}"
                    rows.append({"method": label, **res["for_you"]})
                    log(f"{name} diversity={div} half_life={half}: ndcg {res['for_you'][f'ndcg@{k}']:.3f}")
            out["protocols"][name] = {"users_evaluated": len(split.cases), "rows": rows}
    if args.json:
        json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
        return
    print(format_facts(out["machine"]))
    print(f"log: {source}; k={k}")
    cols = [("method", "method"), (f"precision@{k}", f"P@{k}"), (f"recall@{k}", f"R@{k}"), (f"f1@{k}", f"F1@{k}"),
            (f"ndcg@{k}", f"NDCG@{k}"), ("coverage", "coverage"), ("diversity", "ILD"), ("novelty", "novelty")]
    for name, res in out["protocols"].items():
        print(f"\n{name}: {res['users_evaluated']} users evaluated")
        print(table([{c: (f"{v:.3f}" if isinstance(v, float) else v) for c, v in r.items()} for r in res["rows"]],
                    cols))


if __name__ == "__main__":
    main()
