"""Deterministic query understanding: prices, colours, sizes, categories, brands and stock from words.

The LLM proposes arguments; this module tells what the shopper actually said, so code can check them.
`parse_query("红色连衣裙 300元以内", vocab)` -> text "红色连衣裙", Filters(price_max=300, colors=("红色",)).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from daogou.ingest.filters import Filters
from daogou.ingest.vocab import colors_in_text
from daogou.tools.vocabulary import Vocabulary, name_index, title_terms

__all__ = ["CATEGORY_ALIASES", "ParsedQuery", "Vocabulary", "name_index", "parse_price", "parse_query",
           "title_terms"]

# Category words shoppers use -> the demo/common catalog category they mean. Only categories that the
# catalog actually holds are ever used as filters (see Vocabulary).
CATEGORY_ALIASES: dict[str, tuple[str, ...]] = {
    "服装": ("服装", "衣服", "clothing", "clothes", "apparel"),
    "鞋靴": ("鞋靴", "鞋子", "鞋", "shoes", "shoe", "footwear"),
    "箱包": ("箱包", "包包", "bags", "bag", "luggage"),
    "美妆": ("美妆", "化妆品", "护肤品", "beauty", "makeup", "cosmetics", "skincare"),
    "数码": ("数码", "电子产品", "electronics", "gadgets", "digital"),
    "家居": ("家居", "家具", "home", "furniture", "homeware"),
    "厨具": ("厨具", "厨房用品", "kitchen", "cookware", "kitchenware"),
    "运动": ("运动", "运动用品", "户外", "sports", "sport", "outdoor", "fitness"),
    "玩具": ("玩具", "toys", "toy"),
    "食品": ("食品", "food", "groceries"),
    "图书": ("图书", "书籍", "books", "book", "novel", "小说"),
    "宠物": ("宠物用品", "宠物", "狗狗", "猫咪", "狗粮", "猫粮", "猫砂", "pet", "pets", "pet supplies", "dog food",
           "cat food", "dog", "dogs", "cat", "cats", "puppy", "kitten"),
}

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_NUM = r"(\d+(?:\.\d+)?\s*[kKwW千万]?|[零〇一二两三四五六七八九十百千万]+)"
_CUR = r"\s*(?:元|块钱|块|rmb|cny|yuan|kuai)?"
_PRE = r"(?:[¥￥$]\s*)?"
_PRICE_PATTERNS: list[tuple[str, str]] = [
    ("range", rf"{_PRE}{_NUM}{_CUR}\s*(?:-|~|～|—|到|至|to)\s*{_PRE}{_NUM}{_CUR}"),
    ("range", rf"(?:between|from)\s*{_PRE}{_NUM}{_CUR}\s*(?:and|to|-)\s*{_PRE}{_NUM}{_CUR}"),
    ("range", rf"(?:介于|在){_NUM}{_CUR}\s*(?:和|与)\s*{_NUM}{_CUR}\s*之间"),
    ("max", rf"{_PRE}{_NUM}{_CUR}\s*(?:以内|以下|之内|内|之下|封顶)"),
    ("max", rf"(?:加到|提到|放宽到|提高到|涨到|raise (?:it )?to|increase (?:it )?to|stretch to|"
            rf"不要超过|别超过|不能超过|不要高于|nothing (?:over|above|more than)|not (?:over|above|more than)|"
            rf"no more than|no higher than)\s*{_PRE}{_NUM}{_CUR}"),
    ("max", rf"(?:不超过|不高于|低于|少于|不到|小于|最多|预算|budget(?: of| is)?|under|below|less than|"
            rf"cheaper than|at most|max(?:imum)?|up to|within|no more than|<=?)\s*{_PRE}{_NUM}{_CUR}"),
    ("max", rf"{_PRE}{_NUM}{_CUR}\s*(?:max|tops|at most|or less|or under|or below|or cheaper)\b"),
    ("min", rf"{_PRE}{_NUM}{_CUR}\s*(?:以上|起|之上)"),
    ("min", rf"(?:不低于|高于|超过|多于|大于|至少|over|above|more than|at least|min(?:imum)?|>=?)"
            rf"\s*{_PRE}{_NUM}{_CUR}"),
]
_SIZE = re.compile(r"(?<![a-z0-9])(xxs|xs|s|m|l|xl|xxl|xxxl|[2-4]xl)(?:\s*码|(?![a-z0-9]))", re.I)
_SIZE_CUE = re.compile(r"(尺码|码|size|穿|号)", re.I)
_SHOE_SIZE = re.compile(r"(?<!\d)(3[4-9]|4[0-6])\s*(?:码|号)")
_SIZE_WORD = re.compile(r"(?:size|尺码)\s*[:：]?\s*([a-z0-9]{1,4})", re.I)
_EN_SIZE = re.compile(r"\b(?:i'?m an?|i am an?|size|in an?|wear an?|in)\s+(extra[- ]small|x-small|small|medium|"
                      r"large|extra[- ]large|x-large)\b", re.I)
_EN_SIZES = {"extra small": "XS", "extra-small": "XS", "x-small": "XS", "small": "S", "medium": "M", "large": "L",
             "extra large": "XL", "extra-large": "XL", "x-large": "XL"}
_WATERPROOF = re.compile(r"(?<!不)防水|waterproof|water-proof|water resistant|water-resistant|rainproof|防雨", re.I)
_IN_STOCK = re.compile(r"(有货|现货|有库存|马上发货|现在就能买|能马上买|in stock|available now|order (it )?today|"
                       r"buy (it )?(right )?now|ships? today|can order|available today)", re.I)
_NEGATION = r"(?:不要|不想要|别|除了|排除|不是|not|no|except|without|other than)\s*(?:made by |from |by |the |any )?"


@dataclass(frozen=True)
class ParsedQuery:
    """What the shopper said: the text to retrieve with and the hard constraints they stated."""

    text: str
    filters: Filters
    mentions: dict[str, list[str]] = field(default_factory=dict)  # raw phrases found, for traces


def cn_number(raw: str) -> float | None:
    """'三百' -> 300, '1.5k' -> 1500, '2万' -> 20000, '299' -> 299; None if it is not a number."""
    s = raw.strip().lower().replace(" ", "")
    if not s:
        return None
    mult = 1.0
    if s[-1] in "kw千万" and len(s) > 1 and (s[:-1].replace(".", "", 1).isdigit()):
        mult = {"k": 1e3, "千": 1e3, "w": 1e4, "万": 1e4}[s[-1]]
        s = s[:-1]
    if s.replace(".", "", 1).isdigit():
        return float(s) * mult
    total, current = 0, 0
    for ch in s:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            unit = _CN_UNITS[ch]
            if unit == 10000:
                total = (total + current) * unit
            else:
                total += (current or 1) * unit
            current = 0
        else:
            return None
    return float(total + current)


def parse_price(text: str) -> tuple[float | None, float | None, list[str]]:
    """(price_min, price_max, matched phrases) stated in `text`."""
    low: float | None = None
    high: float | None = None
    phrases: list[str] = []
    t = text.lower()
    for kind, pattern in _PRICE_PATTERNS:
        for m in re.finditer(pattern, t):
            nums = [cn_number(g) for g in m.groups() if g]
            if any(n is None for n in nums):
                continue
            if kind == "range" and len(nums) == 2:
                a, b = sorted(nums)  # type: ignore[type-var]
                low, high = a, b
            elif kind == "max":
                high = nums[0]
            elif kind == "min":
                low = nums[0]
            phrases.append(text[m.start():m.end()])
            t = t[:m.start()] + " " * (m.end() - m.start()) + t[m.end():]
    if low is not None and high is not None and low > high:
        low, high = high, low
    return low, high, phrases


def _categories(text: str, vocab: Vocabulary) -> list[str]:
    """The category named last: a compound names its head last ("运动鞋" is shoes, "sports shoes" too)."""
    t = text.lower()
    best: tuple[tuple[int, int], str] | None = None
    for cat in sorted(vocab.categories):
        for alias in (cat.lower(), *CATEGORY_ALIASES.get(cat, ())):
            pattern = rf"(?<![a-z]){re.escape(alias)}(?![a-z])" if re.search(r"[a-z]", alias) else re.escape(alias)
            for m in re.finditer(pattern, t):
                key = (m.end(), len(alias))  # the last-ending mention; at a tie the longer ("dog food" > "food")
                if best is None or key > best[0]:
                    best = (key, cat)
    return [best[1]] if best else []


def _word_in(word: str, text: str) -> bool:
    if re.search(r"[a-z]", word):
        return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None
    return word in text


def _brand_aliases(brand: str) -> list[str]:
    parts = [brand] + [p for p in re.split(r"\s+", brand) if len(p) >= 2]
    return [p.lower() for p in parts]


def _brands(text: str, vocab: Vocabulary) -> tuple[list[str], list[str]]:
    """(brands asked for, brands excluded)."""
    t = text.lower()
    wanted, excluded = [], []
    for brand in sorted(vocab.brands):
        for alias in _brand_aliases(brand):
            m = re.search(rf"{_NEGATION}{re.escape(alias)}", t) if _word_in(alias, t) else None
            if m:
                excluded.append(brand)
                break
            if _word_in(alias, t):
                wanted.append(brand)
                break
    return wanted, excluded


def _sizes(text: str) -> list[str]:
    out = [m.group(1).upper() for m in _SHOE_SIZE.finditer(text)]
    out += [m.group(1).upper() for m in _SIZE_WORD.finditer(text)
            if m.group(1).lower() not in _EN_SIZES]
    out += [_EN_SIZES[m.group(1).lower()] for m in _EN_SIZE.finditer(text)]
    if _SIZE_CUE.search(text) or re.search(r"(?<![a-z])(xs|xl|xxl|xxxl)(?![a-z])", text, re.I):
        out += [m.group(1).upper() for m in _SIZE.finditer(text)]
    return list(dict.fromkeys(out))


def parse_query(text: str, vocab: Vocabulary | None = None) -> ParsedQuery:
    """Split a shopper's request into retrieval text and hard filters (see the module docstring)."""
    vocab = vocab or Vocabulary()
    low, high, price_phrases = parse_price(text)
    rest = text
    for phrase in price_phrases:
        rest = rest.replace(phrase, " ")
    colors = colors_in_text(rest)
    categories = _categories(rest, vocab)
    brands, excluded = _brands(rest, vocab)
    sizes = _sizes(rest)
    in_stock = bool(_IN_STOCK.search(rest))
    waterproof = bool(_WATERPROOF.search(rest))
    clean = re.sub(r"\s+", " ", rest).strip(" ，,。.!！?？")
    filters = Filters(price_min=low, price_max=high, colors=tuple(colors), categories=tuple(categories),
                      brands=tuple(brands), exclude_brands=tuple(excluded), sizes=tuple(sizes), in_stock=in_stock,
                      waterproof=waterproof)
    mentions = {"price": price_phrases, "colors": colors, "categories": categories, "brands": brands,
                "exclude_brands": excluded, "sizes": sizes}
    return ParsedQuery(text=clean or text.strip(), filters=filters, mentions={k: v for k, v in mentions.items() if v})
