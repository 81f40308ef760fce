"""The dialogue suite's checks of one chat turn's actions: tool arguments and the products shown; catalog facts.

Pure functions over plain data — the `chat --json` turn dict and catalog rows — with no agent and no models.
Nothing here assumes one catalog: ids are whatever the catalog holds (`CatalogFacts.id_pattern` finds them in
text by their shapes), attribute keys are matched in any language (`ATTRIBUTE_KEYS`), prices are compared as
numbers in each product's own currency. What the reply *says* is checked in `reply_checks`; `dialogues.py` owns
the YAML format and the runner (see tests/dialogues/README.md for the rules in words).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from daogou.ingest.vocab import normalize_color, split_values
from daogou.tools.query import CATEGORY_ALIASES

__all__ = [
    "ARG_ALIASES",
    "ATTRIBUTE_KEYS",
    "TOOL_NAMES",
    "CatalogFacts",
    "arg_present",
    "args_match",
    "attribute",
    "product_violations",
    "value_matches",
]

TOOL_NAMES = ("search_catalog", "similar_products", "recommend_for_user", "product_details",
              "compare_products", "answer_about_product", "write_copy")

# canonical argument name in a dialogue file -> names an agent may use for it (first is the canonical one)
ARG_ALIASES: dict[str, tuple[str, ...]] = {
    "price_max": ("price_max", "max_price", "price_lte", "price_upper", "budget", "max"),
    "price_min": ("price_min", "min_price", "price_gte", "price_lower", "min"),
    "color": ("color", "colors", "colour", "colours", "颜色"),
    "category": ("category", "categories", "类目"),
    "brand": ("brand", "brands", "品牌"),
    "exclude_brands": ("exclude_brands", "brand_not", "exclude_brand", "brands_exclude", "not_brands"),
    "size": ("size", "sizes", "尺码"),
    "in_stock": ("in_stock", "only_in_stock", "available"),
    "product_id": ("product_id", "id", "product_ids", "ids", "item_id", "product"),
    "product_ids": ("product_ids", "ids", "product_id", "items", "products"),
    "exclude_ids": ("exclude_ids", "ids_exclude", "exclude"),
    "query": ("query", "text", "q", "keywords"),
    "style": ("style", "tone"),
    "language": ("language", "lang"),
}
_BRAND_KEYS = {"brand", "exclude_brands"}
_SIZE_WORDS = {"small": "S", "medium": "M", "large": "L", "extra large": "XL", "x-large": "XL", "xx-large": "XXL",
               "小号": "S", "中号": "M", "大号": "L", "加大号": "XL"}
_ID_KEYS = {"product_id", "product_ids", "exclude_ids"}
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
# what the `color` and `size` product checks read: the first of these attribute keys a product has (any case)
ATTRIBUTE_KEYS: dict[str, tuple[str, ...]] = {
    "color": ("颜色", "顏色", "色彩", "color", "colour", "colors", "colours"),
    "size": ("尺码", "码数", "鞋码", "size", "sizes"),
}
_MAX_ID_SHAPES = 30  # id shapes searched for in replies; the rarer ones of a free-form id scheme are left out
_MIN_DIGITS_BARE_ID = 6  # an all-digit id shape shorter than this would catch prices and years in a reply


def attribute(attrs: Mapping[str, Any], key: str) -> str | None:
    """A product's attribute value by key, case-insensitively; `color`/`size` try every name in ATTRIBUTE_KEYS."""
    folded = {str(k).strip().lower(): v for k, v in attrs.items()}
    for name in ATTRIBUTE_KEYS.get(key.lower(), (key,)):
        if name.lower() in folded:
            return str(folded[name.lower()])
    return None


def _id_shape(pid: str) -> str | None:
    """The regular expression of an id's shape: digit runs generalised (SKU-1092 -> SKU\\-\\d{4}), or None for
    ids that cannot be told from words and prices (no digits, or all digits and short)."""
    if not re.search(r"\d", pid) or (pid.isdigit() and len(pid) < _MIN_DIGITS_BARE_ID):
        return None
    return re.sub(r"\d+", lambda m: rf"\d{{{len(m.group())}}}", re.escape(pid))


# ---------------------------------------------------------------------------------------------- catalog facts
@dataclass(frozen=True)
class CatalogFacts:
    """What the checks need to know of the catalog: rows by id, titles, and the words a product name is made of."""

    rows: dict[str, dict[str, Any]]
    titles: tuple[str, ...]  # lower-cased full titles and their " / "-separated halves
    names: frozenset[str]  # lower-cased tags, categories, brands (and halves), attribute values
    type_words: tuple[str, ...]  # tags that occur in one category only: what a product-name claim contains
    strip_terms: tuple[str, ...]  # catalog strings (titles, brands, categories, tags, attributes) removed
    # before judging a reply's language, longest first
    folded_ids: dict[str, str]  # lower-cased id -> the catalog's id
    id_pattern: re.Pattern[str] | None  # finds id-shaped tokens (this catalog's shapes) in text; None: no shape

    def catalog_id(self, token: Any) -> str | None:
        """The catalog id that `token` names (case-insensitively; ints too), or None."""
        return self.folded_ids.get(str(token).strip().lower()) if isinstance(token, str | int) else None

    def ids_in_text(self, text: str) -> list[str]:
        """Id-shaped tokens in `text`, as written (whether or not the catalog holds them), in order."""
        return [m.group() for m in self.id_pattern.finditer(text)] if self.id_pattern else []

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> CatalogFacts:
        """Build from catalog rows (dicts with the Product fields, or `Product.model_dump()`)."""
        by_id: dict[str, dict[str, Any]] = {}
        for row in rows:
            r = dict(row)
            by_id[str(r["id"])] = r
        titles: set[str] = set()
        names: set[str] = set()
        strip: set[str] = set()
        tag_cats: dict[str, set[str]] = {}
        for r in by_id.values():
            for text in (r.get("title") or "", r.get("brand") or ""):
                parts = [text, *[p.strip() for p in re.split(r"\s+/\s+", text)]]
                strip.update(p for p in parts if p)
                if text == r.get("title"):
                    titles.update(p.lower() for p in parts if p)
            brand = r.get("brand") or ""
            names.update(p.lower() for p in [brand, *brand.split()] if p)
            names.add(str(r.get("category") or "").lower())
            strip.add(str(r.get("category") or ""))
            for key, value in (r.get("attributes") or {}).items():
                strip.update([str(key), str(value)])
                names.add(str(value).lower())
            for tag in r.get("tags") or []:
                names.add(str(tag).lower())
                if _CJK.search(str(tag)):  # English tags ("dress") are words an English reply uses itself
                    strip.add(str(tag))
                tag_cats.setdefault(str(tag).lower(), set()).add(str(r.get("category") or ""))
        type_words = tuple(sorted((t for t, cats in tag_cats.items() if len(cats) == 1 and len(t) >= 2),
                                  key=len, reverse=True))
        names.discard("")
        shapes = Counter(shape for pid in by_id if (shape := _id_shape(pid)))
        alternatives = "|".join(shape for shape, _ in shapes.most_common(_MAX_ID_SHAPES))
        pattern = re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])", re.IGNORECASE) if shapes else None
        return cls(rows=by_id, titles=tuple(sorted(titles)), names=frozenset(names), type_words=type_words,
                   strip_terms=tuple(sorted(strip, key=len, reverse=True)),
                   folded_ids={pid.lower(): pid for pid in by_id}, id_pattern=pattern)


# ---------------------------------------------------------------------------------------------- arguments
def _flatten(args: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments with nested objects ({"filters": {...}}) lifted to the top level; top-level names win."""
    out: dict[str, Any] = {}
    for value in args.values():
        if isinstance(value, Mapping):
            for k, v in _flatten(value).items():
                out.setdefault(k, v)
    out.update({k: v for k, v in args.items() if not isinstance(v, Mapping)})
    return out


def _lookup(args: Mapping[str, Any], key: str) -> list[Any]:
    flat = _flatten(args)
    return [flat[name] for name in ARG_ALIASES.get(key, (key,)) if name in flat]


def _empty(value: Any) -> bool:
    return value is None or value is False or value == "" or value == [] or value == {}


def arg_present(args: Mapping[str, Any], key: str) -> bool:
    """True when the call carries `key` (under any alias) with a non-empty value."""
    return any(not _empty(v) for v in _lookup(args, key))


def args_match(args: Mapping[str, Any], expected: Mapping[str, Any]) -> list[str]:
    """Expected (canonical name -> value) pairs that this call's arguments do not satisfy, as reasons."""
    misses = []
    for key, want in expected.items():
        values = _lookup(args, key)
        if not any(value_matches(key, want, v) for v in values):
            got = ", ".join(repr(v) for v in values) or "absent"
            misses.append(f"{key}={want!r} (got {got})")
    return misses


def _to_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _NUMBER.search(value.replace(",", ""))
        return float(m.group()) if m else None
    return None


def _category(value: str) -> str:
    v = value.strip().lower()
    for canon, aliases in CATEGORY_ALIASES.items():
        if v == canon.lower() or v in (a.lower() for a in aliases):
            return canon
    return v


def value_matches(key: str, want: Any, got: Any) -> bool:
    """Does the actual argument value `got` satisfy the expected `want` for canonical argument `key`?

    Lists: every expected element must be matched by some actual element. Numbers compare numerically.
    `{contains_any: [...]}`, `{any_of: [...]}`, `{lt: x}` and `{le: x}` are operators. Colours compare as
    canonical colours (红 == red == 红色), categories through their aliases, sizes through size words
    (medium == M), brands by containment (踏风 == "踏风 Tafeng"), ids and other text case-insensitively.
    """
    if isinstance(want, Mapping):
        return _operator_matches(key, want, got)
    if isinstance(want, list):
        return all(value_matches(key, w, got) for w in want)
    if isinstance(got, list | tuple):
        return any(value_matches(key, want, g) for g in got)
    if key in _ID_KEYS and isinstance(got, int) and not isinstance(got, bool):
        got = str(got)  # a 12-digit id passed as a number
    if isinstance(want, bool):
        return got is want or str(got).strip().lower() == str(want).lower()
    if isinstance(want, int | float):
        n = _to_number(got)
        return n is not None and abs(n - float(want)) < 1e-6
    w, g = str(want).strip().lower(), str(got).strip().lower()
    if _to_number(w) is not None and _NUMBER.fullmatch(w) and _to_number(g) is not None:
        return abs(float(w) - (_to_number(g) or 0.0)) < 1e-6
    if key == "color":
        cw, cg = normalize_color(w), normalize_color(g)
        return (cw or w) == (cg or g)
    if key == "category":
        return _category(w) == _category(g)
    if key == "size":
        return _SIZE_WORDS.get(w, w).upper() == _SIZE_WORDS.get(g, g).removesuffix("码").removesuffix("号").upper()
    if key in _BRAND_KEYS:
        return bool(w and g) and (w in g or g in w)
    if key in _ID_KEYS:
        return w == g
    return w == g


def _operator_matches(key: str, op: Mapping[str, Any], got: Any) -> bool:
    (name, arg), = op.items()
    if name == "any_of":
        return any(value_matches(key, a, got) for a in arg)
    if name == "contains_any":
        text = " ".join(str(g) for g in got) if isinstance(got, list | tuple) else str(got)
        return any(str(a).lower() in text.lower() for a in arg)
    n, limit = _to_number(got), _to_number(arg)
    if n is None or limit is None:
        return False
    return n < limit if name == "lt" else n <= limit


# ---------------------------------------------------------------------------------------------- products
def _split_sizes(value: str) -> list[str]:
    return [s.upper() for s in split_values(value)]


def product_violations(p: Mapping[str, Any], checks: Mapping[str, Any]) -> list[str]:
    """Reasons why one shown product breaks the per-product constraints in `checks` (resolved values)."""
    pid, price = p.get("id"), p.get("price")
    attrs = {str(k): str(v) for k, v in (p.get("attributes") or {}).items()}
    colour, sizes = attribute(attrs, "color"), attribute(attrs, "size")
    out = []

    def bad(reason: str) -> None:
        out.append(f"{pid} {reason}")

    for name, cmp in (("price_max", lambda a, b: a <= b + 1e-6), ("price_min", lambda a, b: a >= b - 1e-6),
                      ("price_below", lambda a, b: a < b - 1e-6)):
        limit = checks.get(name)
        if limit is not None and (price is None or not cmp(float(price), float(limit))):
            bad(f"price {price} breaks {name} {limit}")
    if checks.get("category"):
        cats = checks["category"] if isinstance(checks["category"], list) else [checks["category"]]
        if _category(str(p.get("category") or "")) not in {_category(str(c)) for c in cats}:
            bad(f"category {p.get('category')!r} is not {' or '.join(map(str, cats))}")
    if checks.get("color"):
        wanted = checks["color"] if isinstance(checks["color"], list) else [checks["color"]]
        have = {normalize_color(v) or v for v in split_values(colour or "")}
        if not have & {normalize_color(str(c)) or str(c) for c in wanted}:
            bad(f"colour {colour or 'none'!r} is not {' or '.join(map(str, wanted))}")
    if checks.get("tag"):
        wanted_tags = checks["tag"] if isinstance(checks["tag"], list) else [checks["tag"]]
        tags = {str(t).lower() for t in p.get("tags") or []}
        if not tags & {str(t).lower() for t in wanted_tags}:
            bad(f"({p.get('title')}) is not a {' or '.join(map(str, wanted_tags))}")
    if checks.get("size") and str(checks["size"]).upper() not in _split_sizes(sizes or ""):
        bad(f"sizes {sizes or 'none'!r} lack {checks['size']}")
    brand = str(p.get("brand") or "").lower()
    if checks.get("brand") and not value_matches("brand", str(checks["brand"]), brand):
        bad(f"brand {p.get('brand')!r} is not {checks['brand']!r}")
    for b in checks.get("brand_not") or []:
        if brand and value_matches("brand", str(b), brand):
            bad(f"brand {p.get('brand')!r} was excluded")
    if checks.get("in_stock") and p.get("stock") == 0:
        bad("is out of stock (stock 0)")
    if pid in set(checks.get("ids_exclude") or []):
        bad("was excluded")
    for key, value in (checks.get("attributes") or {}).items():
        have = attribute(attrs, key)
        if str(value).lower() not in (have or "").lower():
            bad(f"attribute {key}={have or 'none'!r} does not contain {value!r}")
    return out
