"""`daogou eval recommend`: "for you" recommendations scored on the future of an interaction log, with baselines.

Protocol. Each user's events are sorted by time and split: the last `future_share` of them (at least one; events
at the same second as the first future event go with it, so nothing simultaneous leaks) are the future, the
rest the past. The truth is the set of items the user liked, carted or bought in the future. Three methods
rank the catalog for each user from the past alone, in the same run:

- `for_you`: `daogou.tools.recommend.recommend_for_user` (user vector from the past, MMR) — the method under test;
- `popularity`: items by the number of users who liked/carted/bought them in the training data (ties: viewers);
- `random`: a seeded uniform sample of the eligible items.

Discovery (the default, `exclude_seen=True`): items the user touched in the past are neither recommended nor
counted as truth, for every method. Re-showing what a shopper already looked at is trivially "right" (in a
log, repeats dominate the future) and says nothing about whether the recommender finds things they have not
seen; the "for you" list in the chat is for discovery. With `exclude_seen=False` only past purchases and
dislikes are left out (the tool's own default), and re-interactions count as hits.

Training data (popularity, novelty) is the log minus every split user's future. The catalog goes into a
temporary in-memory store with the real text encoder, text only: recommend_for_user uses text vectors only.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daogou.evals.interactions import LogEvent, LogReadResult, generate_log, read_interaction_log, write_log
from daogou.evals.metrics import (
    catalog_coverage,
    f1_at_k,
    intra_list_diversity,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
)
from daogou.ingest.demo import demo_products
from daogou.ingest.pipeline import ingest_catalogs
from daogou.ingest.readers import read_catalog
from daogou.ingest.schema import Product, RowError
from daogou.ingest.store import open_store
from daogou.settings import Settings
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.recommend import Interaction, recommend_for_user

__all__ = [
    "METHODS", "POSITIVE_EVENTS", "UserCase", "evaluate_recommend", "format_report", "load_products",
    "load_log", "run_recommend_eval", "split_log", "split_summary", "temporary_index",
]

POSITIVE_EVENTS = frozenset({"liked", "carted", "bought"})  # what counts as "the user wanted it"
_EXCLUDED_EVENTS = frozenset({"bought", "disliked", "rejected"})  # recommend_for_user never shows these back
METHODS = ("for_you", "popularity", "random")
DEFAULT_USERS = 1000  # ~1 in 5 simulated shoppers has a new liked/carted/bought item in their last 20% of events


@dataclass(frozen=True)
class UserCase:
    """One evaluated user: the past to learn from, the future items to find, the items no method may show."""

    user: str
    past: tuple[Interaction, ...]
    truth: frozenset[str]
    excluded: frozenset[str]


@dataclass
class Split:
    """The evaluated users, the training events, and how many users were left out and why."""

    cases: list[UserCase] = field(default_factory=list)
    train: list[LogEvent] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def split_log(events: Sequence[LogEvent], *, future_share: float = 0.2, min_events: int = 5,
              exclude_seen: bool = True) -> Split:
    """Per-user time split (see the module docstring). Users with fewer than `min_events` events, no past, or
    no future positive left after exclusions are skipped and counted by reason."""
    if not 0.0 < future_share < 1.0:
        raise ValueError(f"future_share={future_share} must be between 0 and 1, e.g. 0.2")
    by_user: dict[str, list[LogEvent]] = defaultdict(list)
    for e in events:
        by_user[e.user].append(e)
    out = Split()
    for user in sorted(by_user):
        evs = sorted(by_user[user], key=lambda e: (e.time, e.line))
        if len(evs) < min_events:
            out.train += evs
            out.skipped[f"fewer than {min_events} events"] += 1
            continue
        cut = evs[len(evs) - max(1, round(future_share * len(evs)))].time
        past = [e for e in evs if e.time < cut]
        future = [e for e in evs if e.time >= cut]
        out.train += past
        if not past:
            out.skipped["no past before the split"] += 1
            continue
        excluded = {e.item for e in past if exclude_seen or e.event in _EXCLUDED_EVENTS}
        truth = {e.item for e in future if e.event in POSITIVE_EVENTS} - excluded
        if not truth:
            out.skipped["no new liked/carted/bought item in the future"] += 1
            continue
        out.cases.append(UserCase(user=user, past=tuple(Interaction(e.item, e.event, e.time) for e in past),
                                  truth=frozenset(truth), excluded=frozenset(excluded)))
    return out


def _popularity_order(train: Sequence[LogEvent], catalog: Sequence[str]) -> list[str]:
    buyers: dict[str, set[str]] = defaultdict(set)
    viewers: dict[str, set[str]] = defaultdict(set)
    for e in train:
        (buyers if e.event in POSITIVE_EVENTS else viewers)[e.item].add(e.user)
    pos = {pid: i for i, pid in enumerate(catalog)}
    return sorted(catalog, key=lambda i: (-len(buyers[i]), -len(viewers[i]), pos[i]))


def evaluate_recommend(index: CatalogIndex, split: Split, *, k: int = 10, seed: int = 7, diversity: float = 0.3,
                       half_life_s: float | None = None, exclude_seen: bool = True) -> dict[str, Any]:
    """Mean Precision/Recall/F1/NDCG@k over the split's users, plus coverage, diversity and novelty, per method.

    Returns {"for_you": {...}, "popularity": {...}, "random": {...}} with keys `precision@K`, `recall@K`,
    `f1@K`, `ndcg@K`, `coverage`, `diversity`, `novelty`, `n`.
    """
    index.refresh()
    catalog = list(index.ids)
    vectors = index.store.text_vectors(catalog)
    popular = _popularity_order(split.train, catalog)
    touched: dict[str, set[str]] = defaultdict(set)
    for e in split.train:
        touched[e.item].add(e.user)
    counts = {i: len(u) for i, u in touched.items()}
    n_train_users = len({e.user for e in split.train})

    def for_you(c: UserCase) -> list[str]:
        res = recommend_for_user(index, c.past, k=k, diversity=diversity, half_life_s=half_life_s,
                                 exclude_seen=exclude_seen)
        return [card.id for card in res.cards]

    def by_popularity(c: UserCase) -> list[str]:
        return [i for i in popular if i not in c.excluded][:k]

    def at_random(c: UserCase) -> list[str]:
        eligible = [i for i in catalog if i not in c.excluded]
        return random.Random(f"{seed}:{c.user}").sample(eligible, min(k, len(eligible)))

    methods: dict[str, Callable[[UserCase], list[str]]] = {
        "for_you": for_you, "popularity": by_popularity, "random": at_random}
    out: dict[str, Any] = {}
    for name, rank in methods.items():
        lists = [rank(c) for c in split.cases]
        if any(i in c.excluded for ids, c in zip(lists, split.cases, strict=True) for i in ids):
            raise RuntimeError(f"{name} recommended an excluded item; the evaluation would be unfair")
        pairs = list(zip(lists, (c.truth for c in split.cases), strict=True))
        div = [d for ids in lists if (d := intra_list_diversity(ids, vectors)) is not None]
        nov = [v for ids in lists if (v := novelty(ids, counts, n_train_users)) is not None]
        out[name] = {
            f"precision@{k}": _mean(precision_at_k(r, t, k) for r, t in pairs),
            f"recall@{k}": _mean(recall_at_k(r, t, k) for r, t in pairs),
            f"f1@{k}": _mean(f1_at_k(r, t, k) for r, t in pairs),
            f"ndcg@{k}": _mean(ndcg_at_k(r, t, k) for r, t in pairs),
            "coverage": catalog_coverage(lists, len(catalog)) if catalog else 0.0,
            "diversity": _mean(div), "novelty": _mean(nov), "n": len(lists),
        }
    return out


def _mean(values: Any) -> float:
    vals = list(values)
    return statistics.fmean(vals) if vals else 0.0


# -- the command -----------------------------------------------------------------------------------------
def load_products(catalog: Path | None) -> tuple[list[Product], list[RowError]]:
    """The products of `catalog` (any format the catalog reader takes), or the demo catalog's when None."""
    if catalog is None:
        return demo_products(), []
    items = list(read_catalog(catalog))
    products = [p for p in items if isinstance(p, Product)]
    if not products:
        raise ValueError(f"no usable products in {catalog}; check it with `daogou ingest --strict {catalog}`")
    return products, [e for e in items if isinstance(e, RowError)]


@contextmanager
def temporary_index(settings: Settings, products: Sequence[Product]) -> Iterator[CatalogIndex]:
    """A temporary in-memory store holding `products` text-only (real text encoder), dropped on exit."""
    s = settings.with_(ephemeral=True, chroma_url=None, store_dir=None,
                       collection_prefix=f"rec-{uuid.uuid4().hex[:10]}")
    store = open_store(s)
    try:
        with tempfile.TemporaryDirectory(prefix="daogou-rec-") as tmp:
            text_only = Path(tmp) / "catalog.jsonl"
            text_only.write_text("".join(p.model_copy(update={"images": []}).model_dump_json() + "\n"
                                         for p in products), encoding="utf-8")
            ingest_catalogs([text_only], store, s, progress=False)
        yield CatalogIndex(store).refresh()
    finally:
        store.drop()


def load_log(log: Path | None, products: Sequence[Product], *, users: int = 200, seed: int = 7
             ) -> tuple[LogReadResult, str]:
    """The log read against the catalog's ids, or a synthetic one for the catalog when `log` is None; and a
    line saying where it came from."""
    ids = {p.id for p in products}
    if log is not None:
        return read_interaction_log(log, ids), str(log)
    rows = generate_log(products, n_users=users, seed=seed)
    with tempfile.TemporaryDirectory(prefix="daogou-log-") as tmp:  # through the reader, like any log
        read = read_interaction_log(write_log(rows, Path(tmp) / "log.jsonl"), ids)
    return read, f"synthetic: {users} users, seed {seed} (daogou.evals.interactions.generate_log)"


def run_recommend_eval(settings: Settings, *, log: Path | None = None, catalog: Path | None = None,
                       users: int = DEFAULT_USERS, seed: int = 7, k: int = 10, future_share: float = 0.2,
                       min_events: int = 5, exclude_seen: bool = True, diversity: float = 0.3,
                       half_life_s: float | None = None) -> dict[str, Any]:
    """Build a temporary store from the catalog (demo by default), read or generate the log, split, evaluate.

    Returns the whole report as a JSON-ready dict (see `format_report` for the table).
    """
    products, catalog_errors = load_products(catalog)
    read, source = load_log(log, products, users=users, seed=seed)
    if not read.events:
        first = f"; first problem: {read.errors[0]}" if read.errors else ""
        raise ValueError(f"no usable events in {source}{first}")
    split = split_log(read.events, future_share=future_share, min_events=min_events, exclude_seen=exclude_seen)
    if not split.cases:
        raise ValueError(f"no user could be evaluated ({dict(split.skipped)}); the log needs users with at least "
                         f"{min_events} events and liked/carted/bought items late in their history")
    with temporary_index(settings, products) as index:
        results = evaluate_recommend(index, split, k=k, seed=seed, diversity=diversity, half_life_s=half_life_s,
                                     exclude_seen=exclude_seen)
    return {
        "k": k,
        "log": {"source": source, "events": len(read.events), "users": len({e.user for e in read.events}),
                "rejected": len(read.errors), "errors": [str(e) for e in read.errors[:20]]},
        "catalog": {"source": str(catalog) if catalog else "demo catalog", "products": len(products),
                    "rejected": len(catalog_errors)},
        "split": split_summary(split, future_share=future_share, min_events=min_events, exclude_seen=exclude_seen),
        "params": {"seed": seed, "diversity": diversity, "half_life_s": half_life_s},
        "methods": {name: {key: round(v, 4) for key, v in m.items()} for name, m in results.items()},
    }


def split_summary(split: Split, *, future_share: float, min_events: int, exclude_seen: bool) -> dict[str, Any]:
    """How the log was split, for the report."""
    return {"future_share": future_share, "min_events": min_events,
            "protocol": "discovery (past items excluded)" if exclude_seen else "repeats allowed",
            "users_evaluated": len(split.cases), "skipped": dict(split.skipped),
            "past_events_mean": round(_mean(len(c.past) for c in split.cases), 2),
            "truth_items_mean": round(_mean(len(c.truth) for c in split.cases), 2)}


def format_report(report: dict[str, Any]) -> str:
    """The report as a table for people, with the setting it was measured in."""
    k = report["k"]
    sp, lg = report["split"], report["log"]
    lines = [f"log: {lg['source']} — {lg['events']:,} events, {lg['users']} users"
             + (f", {lg['rejected']} rows rejected" if lg["rejected"] else ""),
             f"catalog: {report['catalog']['source']} ({report['catalog']['products']} products)",
             f"split: last {sp['future_share']:.0%} of each user's events are the future; {sp['protocol']}; "
             f"{sp['users_evaluated']} users evaluated"
             + (f", skipped {sp['skipped']}" if sp["skipped"] else "")
             + f"; mean {sp['past_events_mean']:.1f} past events, {sp['truth_items_mean']:.1f} future items",
             ""]
    cols = [f"precision@{k}", f"recall@{k}", f"f1@{k}", f"ndcg@{k}", "coverage", "diversity", "novelty"]
    heads = ["P@" + str(k), "R@" + str(k), "F1@" + str(k), "NDCG@" + str(k), "coverage", "ILD", "novelty"]
    lines.append(f"{'method':<12}" + "".join(f"{h:>10}" for h in heads) + f"{'n':>6}")
    for name, m in report["methods"].items():
        lines.append(f"{name:<12}" + "".join(f"{m[c]:>10.3f}" for c in cols) + f"{m['n']:>6}")
    return "\n".join(lines)
