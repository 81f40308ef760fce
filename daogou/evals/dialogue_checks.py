"""The dialogue suite's checks of one chat turn: tool arguments, shown products, grounding and reply language.

Pure functions over plain data — the `chat --json` turn dict and catalog rows — with no agent and no models.
`dialogues.py` owns the YAML format and the runner; this module owns what "passes" means (see
tests/dialogues/README.md for the rules in words).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from daogou.ingest.vocab import normalize_color, split_values
from daogou.tools.query import CATEGORY_ALIASES

__all__ = [
    "ARG_ALIASES",
    "TOOL_NAMES",
    "CatalogFacts",
    "arg_present",
    "args_match",
    "check_grounding",
    "detect_language",
    "product_violations",
    "says_no_match",
    "says_unknown",
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
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


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
        return cls(rows=by_id, titles=tuple(sorted(titles)), names=frozenset(names), type_words=type_words,
                   strip_terms=tuple(sorted(strip, key=len, reverse=True)))


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
        return w.upper() == g.upper()
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
        have = {normalize_color(v) or v for v in split_values(attrs.get("颜色", ""))}
        if not have & {normalize_color(str(c)) or str(c) for c in wanted}:
            bad(f"colour {attrs.get('颜色', 'none')!r} is not {' or '.join(map(str, wanted))}")
    if checks.get("tag"):
        wanted_tags = checks["tag"] if isinstance(checks["tag"], list) else [checks["tag"]]
        tags = {str(t).lower() for t in p.get("tags") or []}
        if not tags & {str(t).lower() for t in wanted_tags}:
            bad(f"({p.get('title')}) is not a {' or '.join(map(str, wanted_tags))}")
    if checks.get("size") and str(checks["size"]).upper() not in _split_sizes(attrs.get("尺码", "")):
        bad(f"sizes {attrs.get('尺码', 'none')!r} lack {checks['size']}")
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
        if str(value).lower() not in attrs.get(key, "").lower():
            bad(f"attribute {key}={attrs.get(key, 'none')!r} does not contain {value!r}")
    return out


# ---------------------------------------------------------------------------------------------- grounding
_PRICE_NUM = re.compile(
    r"(?<![A-Za-z0-9_.#×第/])(?P<pre>(?:[¥￥$]|rmb|cny)\s*)?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)",
    re.IGNORECASE)
_CURRENCY_AFTER = re.compile(r"\s*(?:元|块|rmb\b|cny\b|yuan\b|kuai\b)", re.IGNORECASE)
_UNIT_AFTER = re.compile(
    r"(?:[A-Za-z%×]|\s?(?:小时|英寸|毫升|公斤|厘米|[寸码号片件岁个款种条双只本年月日周天折分秒层人位色倍次度升克斤米期名家套颗瓶盒包支张项处粒枚台部辆道])"
    r"|\s(?:items?|options?|products?|results?|pieces?|pcs|hours?|days?|inch(?:es)?|colou?rs?|sizes?|shades?"
    r"|years?|months?|weeks?|people|kids?|ml|g|kg|cm|mm|l|gb|tb|mah|of\b|in stock|left|units?))",
    re.IGNORECASE)
_PRODUCT_ID = re.compile(r"(?<![A-Za-z0-9])P\d{3,}(?![0-9])")
_QUOTED = re.compile(r"“([^”]{2,60})”|\"([^\"\n]{2,60})\"|「([^」]{2,60})」|『([^』]{2,60})』|《([^》]{1,60})》")
_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000, "万": 10000}


def _cn_value(s: str) -> float | None:
    total, current = 0, 0
    for ch in s:
        if ch in _CN_DIGIT:
            current = _CN_DIGIT[ch]
        elif ch in _CN_UNIT:
            total = (total + current) * 10000 if _CN_UNIT[ch] == 10000 else total + (current or 1) * _CN_UNIT[ch]
            current = 0
        else:
            return None
    return float(total + current)


def _numbers_said(text: str) -> set[float]:
    """Numbers in the shopper's words, Arabic ("300", "1.5k", "2千") or Chinese ("三百")."""
    out = set()
    for m in re.finditer(r"(\d+(?:\.\d+)?)\s*([kK千wW万])?", text.replace(",", "")):
        mult = {"k": 1e3, "千": 1e3, "w": 1e4, "万": 1e4}.get((m.group(2) or "").lower(), 1.0)
        out.add(float(m.group(1)) * mult)
    for m in re.finditer(r"[零〇一二两三四五六七八九十百千万]+", text):
        if (v := _cn_value(m.group())) is not None:
            out.add(v)
    return out


def _close(value: float, allowed: Iterable[float]) -> bool:
    return any(abs(value - a) < 0.01 or (value.is_integer() and value == round(a)) for a in allowed)


def check_grounding(text: str, shown: Sequence[Mapping[str, Any]], user_texts: Sequence[str],
                    facts: CatalogFacts) -> list[str]:
    """Reasons why the reply states a price, product id or product name that nothing in the conversation backs.

    `shown`: every product shown in the dialogue so far (this turn included); `user_texts`: every shopper
    message so far. A currency-marked number (¥199, 199元, 199 yuan) must be a shown price, a number the
    shopper said, the sum or difference of two shown prices, or a shown price minus a number the shopper
    said ("1088 over your budget"); rounding to a whole number is fine. A bare number not followed by a unit
    is held to the same rule, except that small counts (<= 10) and numbers in shown products' titles,
    attributes and stock are also fine.
    """
    prices = [float(p["price"]) for p in shown if p.get("price") is not None]
    said = set().union(*(_numbers_said(t) for t in user_texts)) if user_texts else set()
    derived = {abs(a - b) for a in prices for b in [*prices, *said]} | {a + b for a in prices for b in prices}
    price_ok = set(prices) | said | derived
    facts_nums = {float(n) for p in shown for s in [str(p.get("title") or ""),
                                                       *map(str, (p.get("attributes") or {}).values())]
                  for n in re.findall(r"\d+(?:\.\d+)?", s)}
    facts_nums |= {float(p["stock"]) for p in shown if isinstance(p.get("stock"), int)}
    out = []
    for m in _PRICE_NUM.finditer(text):
        value = float(m.group("num").replace(",", ""))
        after = text[m.end():]
        marked = bool(m.group("pre")) or bool(_CURRENCY_AFTER.match(after))
        if not marked and _UNIT_AFTER.match(after):
            continue
        if _close(value, price_ok) or (not marked and ((value.is_integer() and value <= 10) or value in facts_nums)):
            continue
        kind = "price" if marked else "price-like number"
        context = text[max(0, m.start() - 12):m.end() + 6].replace("\n", " ")
        out.append(f"{kind} {m.group('num')} in '…{context}…' is not the price of a product shown "
                   f"(shown prices: {', '.join(_fmt(p) for p in sorted(set(prices))) or 'none'})")
    shown_ids = {str(p.get("id")) for p in shown}
    said_ids = {i for t in user_texts for i in _PRODUCT_ID.findall(t)}
    for pid in dict.fromkeys(_PRODUCT_ID.findall(text)):
        if pid not in shown_ids | said_ids:
            out.append(f"product id {pid} is mentioned but was never shown")
    out += _check_quoted_names(text, shown, user_texts, facts)
    return out


def _check_quoted_names(text: str, shown: Sequence[Mapping[str, Any]], user_texts: Sequence[str],
                        facts: CatalogFacts) -> list[str]:
    said = " ".join(user_texts).lower()
    described = " ".join(str(p.get("description") or "") for p in shown).lower()
    out = []
    for m in _QUOTED.finditer(text):
        span = next(g for g in m.groups() if g is not None).strip().lower()
        book = m.group(5) is not None
        if not book and not any(_has_word(w, span) for w in facts.type_words):
            continue  # not a product name: a slogan in a piece of copy, a quoted word
        if (any(span in t for t in facts.titles) or span in facts.names or span in said or span in described):
            continue
        out.append(f"quoted product name {m.group(0)} is not a catalog title")
    return out


def _has_word(word: str, text: str) -> bool:
    if re.search(r"[a-z]", word):
        return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None
    return word in text


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


# ---------------------------------------------------------------------------------------------- language
def detect_language(text: str, facts: CatalogFacts) -> tuple[str | None, float]:
    """("zh" | "en" | None, CJK share) of a reply, after removing catalog titles, brands, categories, tags and
    attribute keys and values (an English reply may quote them in Chinese).

    share = Han characters / (Han characters + Latin words of 2+ letters). zh when share >= 0.5, en when
    share < 0.35; in between (a mixed reply) or with no words at all, None.
    """
    t = re.sub(r"https?://\S+", " ", text)
    t = _PRODUCT_ID.sub(" ", t)
    for term in facts.strip_terms:
        if len(term) >= 2:
            t = t.replace(term, " ")
    t = re.sub(r"\d+(?:\.\d+)?\s*元", " ", t)
    han, words = len(_CJK.findall(t)), len(_LATIN_WORD.findall(t))
    if han + words == 0:
        return None, 0.0
    share = han / (han + words)
    return ("zh" if share >= 0.5 else "en" if share < 0.35 else None), round(share, 3)


# ---------------------------------------------------------------------------------------------- honesty
_NONE = re.compile(
    r"没有|暂无|暂时没|找不到|没找到|未找到|没能找到|无法找到|不符合|没货|抱歉|遗憾|只有"
    r"|\bno\b|\bnone\b|\bnot\b|n't\b|unfortunately|sorry|nothing|\bonly\b|closest|nearest", re.IGNORECASE)
_UNKNOWN = re.compile(
    r"(?:没有|未|暂无|无|没)[^。！？!?\n]{0,15}(?:信息|说明|提到|提及|标注|写|注明|资料|数据|记载|介绍|显示)"
    r"|不确定|无法(?:确定|确认|回答|判断|得知)|不清楚|不知道|不太清楚|建议(?:咨询|联系)|客服"
    r"|(?:doesn't|does not|don't|do not|isn't|is not|aren't|are not|not)\b[^.!?\n]{0,60}?"
    r"\b(?:say|said|mention|list|specif|state|include|provide|cover|available|information|info|detail)"
    r"|\bno (?:information|info|details?|data|mention|record)|not (?:sure|certain)|\bunknown\b"
    r"|(?:can't|cannot|can not|unable to) (?:tell|confirm|say|find|verify)|check (?:the|with)|contact",
    re.IGNORECASE)


def says_no_match(text: str) -> bool:
    """Does the reply tell the shopper that nothing (or not exactly what they asked) matches?"""
    return _NONE.search(text) is not None


def says_unknown(text: str) -> bool:
    """Does the reply admit that the catalog does not say (rather than inventing an answer)?"""
    return _UNKNOWN.search(text) is not None
