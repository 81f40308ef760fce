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

__all__ = ["AROUND", "CATEGORY_ALIASES", "SPEC_UNITS", "ParsedQuery", "Spec", "Vocabulary", "catalog_colors",
           "category_aliases", "name_index", "parse_price", "parse_query", "specs_in_text", "title_terms"]

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

AROUND = (0.7, 1.2)  # "around 50" reads as 35-60

_CATEGORY_GROUPS = tuple(frozenset((canon.lower(), *aliases)) for canon, aliases in CATEGORY_ALIASES.items())


def category_aliases(category: str) -> tuple[str, ...]:
    """The words shoppers use for a catalog category: its own name, and the common words of its group
    ("Clothing" -> clothing, clothes, apparel, 服装, 衣服), whatever language the catalog writes it in."""
    low = category.strip().lower()
    out = [low]
    for group in _CATEGORY_GROUPS:
        if low in group:
            out += sorted(group)
    return tuple(dict.fromkeys(out))


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_NUM = r"(\d+(?:\.\d+)?\s*[kKwW千万]?|[零〇一二两三四五六七八九十百千万]+)"
_CUR = r"\s*(?:元|块钱|块|美元|美金|刀|欧元|英镑|rmb|cny|yuan|kuai|usd|dollars?|bucks|eur|euros?|gbp|pounds?|quid)?"
_PRE = r"(?:(?:[¥￥$€£]|us\$|usd|rmb|cny)\s*)?"
_PRICE_PATTERNS: list[tuple[str, str]] = [
    ("range", rf"{_PRE}{_NUM}{_CUR}\s*(?:-|~|～|—|到|至|to)\s*{_PRE}{_NUM}{_CUR}"),
    ("range", rf"(?:between|from)\s*{_PRE}{_NUM}{_CUR}\s*(?:and|to|-)\s*{_PRE}{_NUM}{_CUR}"),
    ("range", rf"(?:介于|在){_NUM}{_CUR}\s*(?:和|与)\s*{_NUM}{_CUR}\s*之间"),
    ("around", rf"(?:around|about|approximately|approx\.?|roughly|circa|~|大概|大约|差不多)\s*{_PRE}{_NUM}{_CUR}"),
    ("around", rf"{_PRE}{_NUM}{_CUR}\s*(?:左右|上下|or so|ish)"),
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


# Units a shopper states a spec in, each with the ways catalogs write it (lower case). A number glued to one of
# these in the shopper's words ("60升", "16oz", "65W") must appear with the same unit in the product's own text.
SPEC_UNITS: dict[str, tuple[str, ...]] = {
    "L": ("升", "l", "litre", "liter", "litres", "liters"),
    "ml": ("毫升", "ml"),
    "W": ("瓦", "w", "watt", "watts"),
    "kW": ("千瓦", "kw"),
    "GB": ("gb", "g"),
    "TB": ("tb", "t"),
    "mAh": ("毫安", "mah"),
    "inch": ("寸", "英寸", "inch", "inches", "in", '"', "″"),
    "kg": ("公斤", "千克", "kg"),
    "g": ("克", "g"),
    "cm": ("厘米", "cm"),
    "mm": ("毫米", "mm"),
    "oz": ("盎司", "oz", "ounce", "ounces"),
    "hp": ("匹",),
    "cup": ("cup", "cups", "杯"),
    "pcs": ("pcs", "pieces", "piece", "片", "块装"),
}
_SPEC_IN_QUERY = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s?(-?)(升|毫升|千瓦|瓦|毫安|英寸|寸|公斤|千克|"
                            r"厘米|毫米|盎司|匹|litres?|liters?|ml|kw|watts?|gb|tb|mah|inch(?:es)?|kg|cm|mm|oz|ounces?|cups?|pcs|l|w)"
                            r"(?![a-z])", re.I)


@dataclass(frozen=True)
class Spec:
    """A measured property the shopper asked for: 60 L, 16 oz, 65 W."""

    value: float
    unit: str  # a key of SPEC_UNITS
    raw: str  # as the shopper wrote it ("60升")

    def label(self) -> str:
        """How the spec is shown ("60L", "16oz")."""
        return f"{self.value:g}{self.unit}"

    def found_in(self, text: str) -> bool:
        """Whether `text` (a product's title or attributes) states this value in this unit."""
        aliases = sorted(SPEC_UNITS[self.unit], key=len, reverse=True)
        unit = "|".join(re.escape(a) for a in aliases)
        num = re.escape(f"{self.value:g}")
        return re.search(rf"(?<![\d.]){num}(?:\.0+)?\s?-?(?:{unit})(?![a-z])", text.lower()) is not None


def specs_in_text(text: str) -> list[Spec]:
    """Specs stated in a shopper's words: "60升的电热水器" -> [60 L]; "a 12-cup coffee maker" -> [12 cup]."""
    out = []
    for m in _SPEC_IN_QUERY.finditer(text):
        word = m.group(3).lower()
        unit = next((u for u, aliases in SPEC_UNITS.items() if word in aliases or word.rstrip("s") in aliases), None)
        if unit is None or (unit == "inch" and word == "in"):
            continue
        out.append(Spec(float(m.group(1)), unit, m.group(0).strip()))
    return out


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
            elif kind == "around":  # "around $50": a band about the amount, more room below than above
                low, high = round(nums[0] * AROUND[0], 2), round(nums[0] * AROUND[1], 2)
            elif kind == "min":
                low = nums[0]
            phrases.append(text[m.start():m.end()])
            t = t[:m.start()] + " " * (m.end() - m.start()) + t[m.end():]
    if low is not None and high is not None and low > high:
        low, high = high, low
    return low, high, phrases


# English colour words that more often name a thing ("coffee maker", "gold ring", "orange juice", "cream"):
# a colour only when the catalog writes it as a colour value, or the shopper says "coffee colour"
_AMBIGUOUS_COLOURS = ("coffee", "cream", "camel", "olive", "gold", "golden", "silver", "orange", "khaki", "navy",
                      "wine", "chocolate", "rose", "coral", "mint", "ivory", "charcoal", "sand", "stone")


def catalog_colors(text: str, vocab: Vocabulary) -> list[str]:
    """Canonical colours the shopper asks for, as far as this catalog can filter by them.

    A catalog that records no colours gets no colour filter (the words stay in the search text). An ambiguous
    English word counts only when the catalog writes it as a colour value, or the text says "X colour", and
    never when it starts a phrase of the catalog's titles ("coffee maker", "coffee table").
    """
    if vocab.product_count and not vocab.colors:
        return []
    low = text.lower()
    out = []
    for canon in colors_in_text(text):
        words = [w for w in _AMBIGUOUS_COLOURS if re.search(rf"(?<![a-z]){w}(?![a-z])", low)]
        if words and all(_thing_not_colour(w, low, vocab) for w in words) and _only_from(canon, words, low):
            continue
        out.append(canon)
    return out


def _thing_not_colour(word: str, low: str, vocab: Vocabulary) -> bool:
    if re.search(rf"(?<![a-z]){word}[- ]?(colou?r|colou?red|tone)\b", low):
        return False
    nxt = re.search(rf"(?<![a-z]){word}\s+([a-z]{{3,}})", low)
    if nxt and f"{word} {nxt.group(1).rstrip('s')}" in vocab.title_terms:
        return True  # "coffee maker", "gold chain": the catalog's own phrase
    return word not in vocab.color_words if vocab.product_count else False


def _only_from(canon: str, words: list[str], low: str) -> bool:
    """Whether colour `canon` is read only from ambiguous words (not also from a plain colour word)."""
    masked = low
    for w in words:
        masked = re.sub(rf"(?<![a-z]){w}(?![a-z])", " ", masked)
    return canon not in colors_in_text(masked)


def _categories(text: str, vocab: Vocabulary) -> list[str]:
    """The category named last: a compound names its head last ("运动鞋" is shoes, "sports shoes" too)."""
    t = text.lower()
    best: tuple[tuple[int, int, bool], str] | None = None
    for cat in sorted(vocab.categories):
        for alias in category_aliases(cat):
            pattern = rf"(?<![a-z]){re.escape(alias)}(?![a-z])" if re.search(r"[a-z]", alias) else re.escape(alias)
            for m in re.finditer(pattern, t):
                # the last-ending mention; at a tie the longer ("dog food" > "food"), then the category's own name
                key = (m.end(), len(alias), alias == cat.lower())
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
    colors = catalog_colors(rest, vocab)
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
