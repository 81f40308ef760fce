"""Checking one turn of a scripted dialogue: parse the agent's output, resolve @references, apply every check.

`check_turn` is what `dialogues.run_suite` calls after each turn; it returns failures with the check's name
and a reason a person can act on ("products: P1007 price 359.0 breaks price_max 300").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from daogou.evals.dialogue_checks import (
    ARG_ALIASES,
    CatalogFacts,
    arg_present,
    args_match,
    attribute,
    product_violations,
)
from daogou.evals.dialogue_report import Failure
from daogou.evals.reply_checks import (
    check_clean_text,
    check_currency,
    check_echo,
    check_grounding,
    check_leaks,
    detect_language,
    says_no_match,
    says_unknown,
)

if TYPE_CHECKING:
    from daogou.evals.dialogues import Expect, Turn

__all__ = ["REF", "RefError", "TurnCheck", "check_turn", "literal_ids", "resolve"]

REF = re.compile(r"^@(prev|turn(\d+))\.(ids|max_price|min_price|(\d+|last)(?:\.(id|price|brand|category|title"
                  r"|attr\.(.+)))?)$")
# the argument names (and aliases) and product checks whose values are product ids
_ID_ARGS = frozenset(a for key in ("product_id", "product_ids", "exclude_ids") for a in ARG_ALIASES[key])
_ID_CHECKS = ("ids_exclude", "include_ids", "first_id")


class RefError(ValueError):
    """An @reference that cannot be resolved, e.g. @prev.2 when the previous turn showed one product."""


class TurnCheck(NamedTuple):
    """What `check_turn` found: failures, and what the turn showed, called, said and looked up."""

    failures: list[Failure]
    shown: list[dict[str, Any]]  # products shown, in display order (missing card fields filled from the catalog)
    called: list[str]  # tool names, in call order
    text: str
    looked_up: list[dict[str, Any]]  # catalog rows of the product ids passed to tools (grounding sources)


def _turn_products(m: re.Match[str], history: Sequence[Sequence[Mapping[str, Any]]]) -> list[Mapping[str, Any]]:
    if m.group(1) == "prev":
        for shown in reversed(history):
            if shown:
                return list(shown)
        raise RefError(f"{m.group(0)}: no earlier turn showed any product")
    n = int(m.group(2))
    if not 1 <= n <= len(history) or not history[n - 1]:
        raise RefError(f"{m.group(0)}: turn {n} showed no product")
    return list(history[n - 1])


def resolve(value: Any, history: Sequence[Sequence[Mapping[str, Any]]], *, as_text: bool = False) -> Any:
    """Replace @references in `value` (any nesting) by what earlier turns showed.

    `@prev` is the latest earlier turn that showed products, `@turnN` turn N (1-based). `.K`/`.last` picks a
    product (its id, or `.price`, `.brand`, `.category`, `.title`, `.attr.KEY`); `.ids`, `.max_price` and
    `.min_price` describe the whole list. A reference inside a list that yields a list is spliced in. With
    `as_text`, each reference becomes a list of acceptable strings (a title's zh and en halves; 199.0 -> "199").
    """
    if isinstance(value, list):
        out: list[Any] = []
        for v in value:
            r = resolve(v, history, as_text=as_text)
            out.extend(r if isinstance(r, list) and (as_text or (isinstance(v, str) and v.startswith("@"))) else [r])
        return out
    if isinstance(value, dict):
        return {k: resolve(v, history, as_text=as_text) for k, v in value.items()}
    if not (isinstance(value, str) and value.startswith("@")):
        return [value] if as_text else value
    m = REF.match(value)
    if m is None:
        raise RefError(f"{value!r} is not a reference")
    shown = _turn_products(m, history)
    what = m.group(3)
    if what == "ids":
        return [str(p.get("id")) for p in shown]
    if what in ("max_price", "min_price"):
        prices = [float(p["price"]) for p in shown if p.get("price") is not None]
        if not prices:
            raise RefError(f"{value}: the products shown have no prices")
        x = max(prices) if what == "max_price" else min(prices)
        return [_fmt(x)] if as_text else x
    idx = len(shown) if m.group(4) == "last" else int(m.group(4))
    if not 1 <= idx <= len(shown):
        raise RefError(f"{value}: that turn showed {len(shown)} product(s)")
    p = shown[idx - 1]
    field = m.group(5) or "id"
    if field.startswith("attr."):
        got: Any = attribute(p.get("attributes") or {}, m.group(6))
        if got is None:
            raise RefError(f"{value}: {p.get('id')} has no attribute {m.group(6)!r}")
    else:
        got = p.get(field)
    if got is None:
        raise RefError(f"{value}: {p.get('id')} has no {field}")
    if not as_text:
        return got
    if field == "title":
        return [str(got), *[h.strip() for h in str(got).split(" / ") if h.strip()]]
    return [_fmt(got) if isinstance(got, int | float) else str(got)]


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{float(x):g}"


def literal_ids(turn: Turn) -> set[str]:
    """Product ids a turn names literally — its image, id arguments (product_id, product_ids, exclude_ids and
    their aliases) and id checks (include_ids, ids_exclude, first_id) — to check against the catalog."""
    ids: set[str] = {turn.image} if turn.image else set()

    def add(v: Any) -> None:
        if isinstance(v, list | tuple):
            for x in v:
                add(x)
        elif isinstance(v, dict):  # an operator such as {any_of: [...]}
            for x in v.values():
                add(x)
        elif v is not None and not (isinstance(v, str) and v.startswith("@")):
            ids.add(str(v))

    e = turn.expect
    for key, value in (e.args or {}).items():
        if key in _ID_ARGS:
            add(value)
    if e.products:
        for key in _ID_CHECKS:
            add(getattr(e.products, key))
    return ids


def _parse_output(out: Any, facts: CatalogFacts) -> tuple[str, list[dict[str, Any]], list[tuple[str, dict]],
                                                          list[Failure]]:
    if not isinstance(out, Mapping):
        return "", [], [], [Failure("output", f"turn output is {type(out).__name__}, not a JSON object")]
    problems = []
    text = out.get("text")
    if not isinstance(text, str):
        problems.append(Failure("output", f"'text' is {type(text).__name__}, not a string"))
        text = ""
    products: list[dict[str, Any]] = []
    for i, p in enumerate(out.get("products") or []):
        if not isinstance(p, Mapping) or not p.get("id"):
            problems.append(Failure("output", f"products[{i}] has no 'id'"))
            continue
        row = facts.rows.get(str(p["id"]))
        if row is None:
            problems.append(Failure("products", f"shown product {p['id']} is not in the catalog"))
        products.append({**(row or {}), **dict(p), "id": str(p["id"])})  # missing card fields from the catalog
    calls: list[tuple[str, dict]] = []
    for i, c in enumerate(out.get("tool_calls") or []):
        if not isinstance(c, Mapping) or not isinstance(c.get("name"), str):
            problems.append(Failure("output", f"tool_calls[{i}] has no 'name'"))
            continue
        args = c.get("args") if "args" in c else c.get("arguments", {})
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError:
                problems.append(Failure("output", f"tool_calls[{i}] args are not JSON: {args[:80]!r}"))
                args = {}
        calls.append((c["name"], dict(args) if isinstance(args, Mapping) else {}))
    return text, products, calls, problems


def check_turn(out: Any, expect: Expect, dialogue_language: str, history: Sequence[Sequence[Mapping[str, Any]]],
               user_texts: Sequence[str], facts: CatalogFacts, sources: Sequence[Mapping[str, Any]] = ()
               ) -> TurnCheck:
    """Check one turn's output against its expectations.

    `history`: products shown by each earlier turn (what @references and grounding see); `user_texts`: the
    shopper's messages so far, this one included; `sources`: products earlier turns looked up without showing
    them (their facts may be quoted too).
    """
    text, shown, calls, failures = _parse_output(out, facts)
    called = [name for name, _ in calls]
    looked_up = [facts.rows[i] for i in dict.fromkeys(_ids_in([a for _, a in calls], facts))]
    if not isinstance(out, Mapping):
        return TurnCheck(failures, shown, called, text, looked_up)

    def fail(check: str, reason: str) -> None:
        failures.append(Failure(check, reason))

    def ref(value: Any, check: str, as_text: bool = False) -> Any:
        try:
            return resolve(value, history, as_text=as_text)
        except RefError as e:
            fail(check, f"cannot check: {e}")
            return None

    e = expect
    if e.tools is not None and set(called) != set(e.tools):
        fail("tools", f"expected {e.tools or 'no tool'}, called {called or 'no tool'}")
    if e.tools_any_of is not None and not set(called) & set(e.tools_any_of):
        fail("tools", f"expected one of {e.tools_any_of}, called {called or 'no tool'}")
    if e.tools_not and set(called) & set(e.tools_not):
        fail("tools", f"called {sorted(set(called) & set(e.tools_not))}, which this turn must not call")
    names = set(e.tools or e.tools_any_of or [])
    candidates = [(n, a) for n, a in calls if not names or n in names]
    if e.args and (want := ref(e.args, "args")) is not None:
        if not candidates:
            fail("args", f"no call of {sorted(names) or 'any tool'} to carry {want}")
        else:
            misses = min((args_match(a, want) for _, a in candidates), key=len)
            if misses:
                fail("args", f"no call has {'; '.join(misses)}; calls: {_calls(candidates)}")
    for key in e.args_absent or []:
        for name, a in candidates:
            if arg_present(a, key):
                fail("args_absent", f"{name} was given {key} that the shopper never asked for: {_calls([(name, a)])}")
                break
    if e.products is not None:
        _check_products(e.products.model_dump(exclude_none=True), shown, ref, fail)
    so_far = [p for turn in history for p in turn] + list(sources) + looked_up + shown
    if e.grounded:
        for reason in check_grounding(text, so_far, user_texts, facts):
            fail("grounded", reason)
    if e.currency_ok:
        for reason in check_currency(text, so_far, facts):
            fail("currency", reason)
    if e.no_leak:
        for reason in check_leaks(text) + check_clean_text(text):
            fail("leak", reason)
    if e.no_echo:
        for reason in check_echo(text, user_texts, so_far):
            fail("echo", reason)
    lang = e.language or dialogue_language
    if lang != "any":
        got, share = detect_language(text, facts)
        if not text.strip():
            fail("language", f"expected a {lang} reply, got an empty reply")
        elif got != lang:
            fail("language", f"expected a {lang} reply, got {got or 'mixed/none'} (CJK share {share})")
    _check_text(e, text, ref, fail)
    return TurnCheck(failures, shown, called, text, looked_up)


def _ids_in(value: Any, facts: CatalogFacts) -> list[str]:
    """Catalog ids among the (nested) argument values of tool calls."""
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return [i for v in value for i in _ids_in(v, facts)]
    pid = facts.catalog_id(value) if not isinstance(value, bool) else None
    return [pid] if pid else []


def _check_products(checks: dict[str, Any], shown: list[dict[str, Any]], ref: Any, fail: Any) -> None:
    resolved = ref(checks, "products")
    if resolved is None:
        return
    lo = resolved.get("min_count", 0 if resolved.get("max_count") == 0 else 1)
    hi = resolved.get("max_count")
    ids = [p["id"] for p in shown]
    if len(shown) < lo or (hi is not None and len(shown) > hi):
        fail("products", f"{len(shown)} product(s) shown; expected {lo}..{hi if hi is not None else 'any'}")
    for p in shown:
        for reason in product_violations(p, resolved):
            fail("products", reason)
    missing = [i for i in resolved.get("include_ids") or [] if i not in ids]
    if missing:
        fail("products", f"expected {missing} among the products shown {ids}")
    if resolved.get("first_id") and (not ids or ids[0] != resolved["first_id"]):
        fail("products", f"expected {resolved['first_id']} first, shown {ids[:3]}")


def _check_text(e: Expect, text: str, ref: Any, fail: Any) -> None:
    low = text.lower()
    if e.text_contains_any and (alts := ref(e.text_contains_any, "text", True)) is not None:
        if not any(str(a).lower() in low for a in alts):
            fail("text", f"reply mentions none of {alts}")
    for item in e.text_contains_all or []:
        alts = ref([item], "text", True)
        if alts is not None and not any(str(a).lower() in low for a in alts):
            fail("text", f"reply does not mention {alts[0] if len(alts) == 1 else alts}")
    for bad in e.text_not_contains or []:
        if bad.lower() in low:
            fail("text", f"reply contains {bad!r}")
    if e.text_matches and not any(re.search(p, text, re.IGNORECASE) for p in e.text_matches):
        fail("text", f"reply matches none of {e.text_matches}")
    for pattern in e.text_not_matches or []:
        if m := re.search(pattern, text, re.IGNORECASE):
            fail("text", f"reply matches {pattern!r}: '{m.group()}'")
    if e.says_no_match and not says_no_match(text):
        fail("honesty", "reply does not say that nothing matches the request")
    if e.says_unknown and not says_unknown(text):
        fail("honesty", "reply does not say that the catalog does not tell (it may have invented an answer)")


def _calls(calls: Sequence[tuple[str, dict]]) -> str:
    return "; ".join(f"{n}{json.dumps(a, ensure_ascii=False)}" for n, a in calls)
