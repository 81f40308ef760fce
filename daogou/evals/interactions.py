"""Interaction logs: a seeded synthetic log of shoppers with stable tastes, and a validating log reader.

A log is one event per line, JSON Lines `{"user", "item", "event", "time"}` or a CSV with those columns.
`event` is one of the recommender's events (`daogou.tools.recommend.EVENT_WEIGHTS`) or a short alias
(`view`, `click`, `like`, `cart`, `buy`, `dislike`, ...); `time` is ISO 8601 (`2026-03-01T12:00:00Z`, a time
without zone is UTC) or epoch seconds. `read_interaction_log` reports every bad row as `file:line: reason`
(unknown item ids included) and keeps the good ones, like the catalog reader.

`generate_log` simulates shoppers over a catalog: each has 1–2 favourite categories, 1–2 favourite colours
and a price band (the lower, middle or upper third of prices within a category), plus a per-item appeal shared
by everyone (some products are hits). In each session a shopper views products drawn from their taste (and,
with probability `noise`, a product drawn uniformly), then likes, carts, buys or dislikes them with
probabilities that grow (or, for dislikes, shrink) with how well the product matches the taste.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from daogou.ingest.readers import json_lines
from daogou.ingest.schema import Product, RowError
from daogou.tools.recommend import EVENT_WEIGHTS

__all__ = [
    "EVENT_ALIASES", "LogEvent", "LogReadResult", "Taste", "generate_log", "make_tastes", "price_bands",
    "read_interaction_log", "simulate_log", "write_log",
]

# Short and common names of events -> the recommender's own event names.
EVENT_ALIASES: dict[str, str] = {
    **{e: e for e in EVENT_WEIGHTS},
    "view": "viewed", "click": "clicked", "like": "liked", "favorite": "liked", "favourite": "liked",
    "cart": "carted", "add_to_cart": "carted", "buy": "bought", "purchase": "bought", "order": "bought",
    "dislike": "disliked", "reject": "rejected",
}
_SHORT = {"viewed": "view", "liked": "like", "carted": "cart", "bought": "buy", "disliked": "dislike"}
BANDS = ("low", "mid", "high")
START = datetime(2026, 1, 1, tzinfo=UTC)  # first day of generated logs


@dataclass(frozen=True)
class LogEvent:
    """One validated row of an interaction log; `event` is a recommender event name, `time` epoch seconds."""

    user: str
    item: str
    event: str
    time: float
    line: int = 0


@dataclass
class LogReadResult:
    """What a log held: the good events (file order) and one RowError per rejected row."""

    events: list[LogEvent] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people, e.g. '1,200 events of 50 users read; 3 rows rejected'."""
        users = len({e.user for e in self.events})
        rej = f"; {len(self.errors)} rows rejected" if self.errors else ""
        return f"{len(self.events):,} events of {users} users read{rej}"


# -- reading ---------------------------------------------------------------------------------------------
def _parse_time(value: Any) -> float:
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError(f"time {value!r} is missing or not a time; write ISO 8601 (2026-03-01T12:00:00Z) "
                         "or epoch seconds")
    if isinstance(value, int | float):
        t = float(value)
    else:
        text = str(value).strip()
        try:
            t = float(text)
        except ValueError:
            try:
                dt = datetime.fromisoformat(text)
            except ValueError as e:
                raise ValueError(f"time {text!r} is not ISO 8601 (2026-03-01T12:00:00Z) or epoch seconds") from e
            t = (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"time {value!r} must be a finite, non-negative epoch time")
    return t


def _validate(raw: dict[str, Any], source: str, line: int, known_ids: Collection[str] | None
              ) -> LogEvent | RowError:
    missing = [k for k in ("user", "item", "event", "time") if raw.get(k) in (None, "")]
    if missing:
        return RowError(source=source, line=line, reason=f"missing {', '.join(missing)}; every row needs "
                        "user, item, event and time")
    user, item = str(raw["user"]).strip(), str(raw["item"]).strip()
    if not user or not item:
        return RowError(source=source, line=line, reason="user and item must not be blank")
    event = EVENT_ALIASES.get(str(raw["event"]).strip().lower())
    if event is None:
        return RowError(source=source, line=line, product_id=item,
                        reason=f"unknown event {raw['event']!r}; use one of {sorted(EVENT_ALIASES)}")
    try:
        t = _parse_time(raw["time"])
    except ValueError as e:
        return RowError(source=source, line=line, product_id=item, reason=str(e))
    if known_ids is not None and item not in known_ids:
        return RowError(source=source, line=line, product_id=item,
                        reason=f"unknown item id {item!r}: not in the catalog; log the catalog's product ids")
    return LogEvent(user=user, item=item, event=event, time=t, line=line)


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]] | RowError]:
    for n, obj, problem in json_lines(path):
        if problem:
            yield RowError(source=path.name, line=n, reason=problem)
            continue
        if not isinstance(obj, dict):
            yield RowError(source=path.name, line=n, reason='expected a JSON object like {"user": "u1", '
                           f'"item": "P1001", "event": "view", "time": "2026-03-01T12:00:00Z"}}, got '
                           f"{type(obj).__name__}")
            continue
        yield n, obj


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]] | RowError]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        lacking = [k for k in ("user", "item", "event", "time") if k not in header]
        if lacking:
            raise ValueError(f"{path.name}: the CSV header lacks {', '.join(lacking)}; the first line must name "
                             "the columns user,item,event,time")
        reader.fieldnames = header
        for row in reader:
            yield reader.line_num, row


def read_interaction_log(path: Path, known_ids: Collection[str] | None = None) -> LogReadResult:
    """Read a JSONL (`.jsonl`, `.ndjson`) or CSV (`.csv`) interaction log into events and row errors.

    With `known_ids` (the catalog's product ids), a row about another id is rejected and reported.
    A file that cannot be read at all (missing, unknown extension, CSV header without the columns) raises
    ValueError naming the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"interaction log {path} does not exist; give a .jsonl or .csv file")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows = _jsonl_rows(path)
    elif suffix == ".csv":
        rows = _csv_rows(path)
    else:
        raise ValueError(f"{path.name}: unknown log format {suffix!r}; use .jsonl or .csv")
    known = set(known_ids) if known_ids is not None else None
    out = LogReadResult()
    for item in rows:
        result = item if isinstance(item, RowError) else _validate(item[1], path.name, item[0], known)
        (out.errors if isinstance(result, RowError) else out.events).append(result)
    return out


# -- generating ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Taste:
    """A simulated shopper's stable preferences."""

    user: str
    categories: tuple[tuple[str, float], ...]  # favourite categories with their share of attention
    colours: tuple[str, ...]
    band: str  # "low", "mid" or "high": which third of a category's prices they buy in


def _colour(p: Product) -> str:
    attrs = p.attributes or {}
    return str(attrs.get("颜色") or attrs.get("color") or attrs.get("colour") or "")


def price_bands(products: Sequence[Product]) -> dict[str, str]:
    """Each product's price band within its category: "low", "mid" or "high" third (by rank of price)."""
    by_cat: dict[str, list[Product]] = {}
    for p in products:
        by_cat.setdefault(p.category or "", []).append(p)
    out: dict[str, str] = {}
    for items in by_cat.values():
        ranked = sorted(items, key=lambda p: (p.price if p.price is not None else 0.0, p.id))
        for r, p in enumerate(ranked):
            out[p.id] = BANDS[min(2, 3 * r // max(1, len(ranked)))]
    return out


def make_tastes(products: Sequence[Product], n_users: int, rng: random.Random) -> list[Taste]:
    """`n_users` shoppers: 1–2 favourite categories (big categories are picked more often, Zipf-like over a
    shuffled order), 1–2 favourite colours from the catalog's colours, one price band."""
    cats = sorted({p.category or "" for p in products})
    rng.shuffle(cats)
    cat_weights = [1.0 / (r + 1) ** 0.7 for r in range(len(cats))]  # some categories are more popular
    colours = sorted({c for p in products if (c := _colour(p))})
    tastes = []
    for u in range(n_users):
        n_cat = min(len(cats), 1 if rng.random() < 0.4 else 2)
        chosen: list[str] = []
        while len(chosen) < n_cat:
            c = rng.choices(cats, cat_weights)[0]
            if c not in chosen:
                chosen.append(c)
        shares = (1.0,) if n_cat == 1 else (0.7, 0.3)
        fav_colours = tuple(rng.sample(colours, min(len(colours), rng.choice((1, 2))))) if colours else ()
        tastes.append(Taste(user=f"u{u + 1:04d}", categories=tuple(zip(chosen, shares, strict=True)),
                            colours=fav_colours, band=rng.choice(BANDS)))
    return tastes


def _match(taste: Taste, p: Product, band: str) -> float:
    """How well a product suits the taste, in (0, 1]: colour and price band (category is handled by sampling)."""
    colour = 1.0 if not taste.colours or _colour(p) in taste.colours else 0.25
    gap = abs(BANDS.index(band) - BANDS.index(taste.band))
    return colour * (1.0, 0.5, 0.2)[gap]


def generate_log(products: Sequence[Product], *, n_users: int = 200, seed: int = 7, noise: float = 0.15,
                 days: int = 90) -> list[dict[str, Any]]:
    """A synthetic interaction log over `products`: rows `{"user","item","event","time"}`, sorted by time.

    Deterministic for a given catalog, `n_users` and `seed`. `noise` is the share of views that ignore taste
    (drawn uniformly from the catalog). Sessions spread over `days` days from 2026-01-01.
    """
    return simulate_log(products, n_users=n_users, seed=seed, noise=noise, days=days)[1]


def simulate_log(products: Sequence[Product], *, n_users: int = 200, seed: int = 7, noise: float = 0.15,
                 days: int = 90) -> tuple[list[Taste], list[dict[str, Any]]]:
    """The simulated shoppers' tastes and their log (see `generate_log`)."""
    if not products:
        raise ValueError("generate_log needs a non-empty catalog")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise={noise} must be a share between 0 and 1")
    if n_users < 1:
        raise ValueError(f"n_users={n_users} must be at least 1")
    rng = random.Random(seed)
    bands = price_bands(products)
    appeal = {p.id: rng.lognormvariate(0.0, 0.6) for p in products}  # shared by everyone: hits and duds
    by_cat: dict[str, list[Product]] = {}
    for p in products:
        by_cat.setdefault(p.category or "", []).append(p)
    rows: list[dict[str, Any]] = []
    tastes = make_tastes(products, n_users, rng)
    for taste in tastes:
        weights = {c: [appeal[p.id] * _match(taste, p, bands[p.id]) for p in by_cat[c]]
                   for c, _ in taste.categories}
        n_sessions = rng.randint(2, 8)
        starts = sorted(rng.uniform(0, days * 86400) for _ in range(n_sessions))
        for start in starts:
            t = start
            for _ in range(rng.randint(1, 6)):
                t += rng.uniform(20, 300)
                if rng.random() < noise:
                    p = rng.choice(products)
                else:
                    cat = rng.choices([c for c, _ in taste.categories], [s for _, s in taste.categories])[0]
                    p = rng.choices(by_cat[cat], weights[cat])[0]
                fit = _match(taste, p, bands[p.id]) * (1.0 if any(p.category == c for c, _ in taste.categories)
                                                      else 0.3)
                rows.append(_row(taste.user, p.id, "viewed", t))
                r = rng.random()
                if r < 0.3 * (1 - fit) ** 2:
                    rows.append(_row(taste.user, p.id, "disliked", t + 5))
                    continue
                if rng.random() < 0.45 * fit:
                    rows.append(_row(taste.user, p.id, "liked", t + 10))
                if rng.random() < 0.30 * fit:
                    rows.append(_row(taste.user, p.id, "carted", t + 20))
                    if rng.random() < 0.6:
                        rows.append(_row(taste.user, p.id, "bought", t + 60))
    rows.sort(key=lambda r: (r["_t"], r["user"]))
    for r in rows:
        r["time"] = (START + timedelta(seconds=r.pop("_t"))).strftime("%Y-%m-%dT%H:%M:%SZ")
    return tastes, rows


def _row(user: str, item: str, event: str, t: float) -> dict[str, Any]:
    return {"user": user, "item": item, "event": _SHORT.get(event, event), "_t": round(t)}


def write_log(rows: Sequence[dict[str, Any]], path: Path) -> Path:
    """Write log rows as JSON Lines (or CSV when `path` ends in .csv); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["user", "item", "event", "time"])
            w.writeheader()
            w.writerows(rows)
    else:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path
