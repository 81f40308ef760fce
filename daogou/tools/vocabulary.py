"""What a catalog holds, learned from its own records: the words the agent may use as filters and names.

`build_vocabulary(ids, titles, metas)` reads every product's filter metadata (see
`daogou.ingest.filters.product_metadata`) once per store revision; `CatalogIndex` keeps the result as
`index.vocabulary` and caches it beside the lexical index (`to_state` / `from_state`). Nothing here is a
table written for one catalog: categories, brands, colours, sizes, attribute keys and values, currencies,
product kinds and product names all come from the records, so a shop with ids like `SKU-1092`, prices in
USD and attribute keys `color`/`size` gets the same treatment as the demo catalog.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from daogou.ingest.vocab import normalize_color, strip_colors

__all__ = ["KIND_KEYS", "Vocabulary", "build_vocabulary", "name_index", "strip_specs", "title_terms"]

# attribute keys whose values name the kind of product ("类型: 储水式电热水器", "type: running shoes")
KIND_KEYS = frozenset({"类型", "品类", "种类", "类别", "款式", "type", "kind", "product type", "style"})
MAX_KINDS = 120  # kinds listed for the model and for "what do you sell"
MAX_VALUES_PER_KEY = 60  # distinct values kept per attribute key
_EN_MODIFIER = re.compile(r"\s+(for|in|with|under|below|over|from|by|at|around|within|that|which|who|so|because|"
                          r"nothing|not|no|but|please|to)\b.*$", re.I | re.S)
_PARTICLES = re.compile(r"[吗呢吧啊呀的了么嘛]+$")  # sentence-final particles after a Chinese kind ("热水器吗")
# words that are never the head of a product phrase: sizes and the like ("black t-shirts, I'm a medium")
_NOT_HEADS = frozenset({"small", "medium", "large", "size", "xl", "xxl", "xs", "extra", "one", "new", "please",
                        "thanks", "hello", "today", "now", "cheap", "cheaper", "best", "good", "nice"})
_STOPWORDS = frozenset({"for", "with", "and", "the", "from", "into", "your", "our", "you", "this", "that", "set",
                        "new", "one", "all", "any", "some", "need", "want", "like", "love", "get", "got", "have"})
_TITLE_FILLER = frozenset({"pack", "pcs", "piece", "pieces", "inch", "cup", "cups", "count", "size", "pair",
                           "pairs", "set", "kit", "new", "edition", "version", "black", "white"})


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff"


def _singular(word: str) -> str:
    """'shoes' -> 'shoe', 'glasses' -> 'glasse' (both sides alike), 'wireless' stays."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"  # puppies -> puppy
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def title_terms(titles: Iterable[str]) -> frozenset[str]:
    """Terms of product titles: CJK bigrams, Latin words of 3+ letters (singular, no function words) and
    Latin word pairs ("running shoe")."""
    out: set[str] = set()
    for title in titles:
        t = title.lower()
        out |= {t[i:i + 2] for i in range(len(t) - 1) if _is_cjk(t[i]) and _is_cjk(t[i + 1])}
        words = [_singular(w) for w in re.findall(r"[a-z]{3,}", t)]
        words = [w for w in words if w not in _STOPWORDS]
        out |= set(words)
        out |= {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}
    return frozenset(out)


def strip_specs(name: str) -> str:
    """The name without its trailing specs: "灰色轻薄手机 256GB (新款)" -> "灰色轻薄手机".

    A spec is a trailing run of word characters that starts with a digit, or a trailing parenthetical. Linear
    time on any input (a regex with nested quantifiers took minutes on a title with a long digit run).
    """
    while True:
        name = name.rstrip()
        if name.endswith((")", "）")):
            opening = max(name.rfind("("), name.rfind("（"))
            if opening < 0:
                return name
            name = name[:opening]
            continue
        i = len(name)
        while i > 0 and (name[i - 1].isalnum() or name[i - 1] in "._"):
            i -= 1
        run = name[i:]
        first_digit = next((j for j, ch in enumerate(run) if ch.isdigit()), None)
        if not run or first_digit is None:
            return name
        name = name[:i + first_digit]


def name_index(products: Iterable[tuple[str, str]]) -> dict[str, tuple[tuple[str, str], ...]]:
    """(id, title) pairs -> names keyed by their first two characters, for `Vocabulary.named_products`.

    "灰色轻薄手机 256GB / Grey slim phone 256GB" gives the names "灰色轻薄手机" and "grey slim phone". Names shorter
    than 4 CJK characters or 2 Latin words are left out: they name a kind ("手机"), not a product.
    """
    out: dict[str, list[tuple[str, str]]] = {}
    for pid, title in products:
        for half in title.lower().split(" / "):
            name = re.sub(r"\s+", " ", strip_specs(half.strip())).strip()
            cjk = sum(_is_cjk(ch) for ch in name)
            if cjk < 4 and (cjk or len(name.split()) < 2 or len(name) < 8):
                continue
            out.setdefault(name[:2], []).append((name, pid))
    return {k: tuple(v) for k, v in out.items()}


def _script(text: str) -> str:
    """"cjk" when Chinese characters carry the text (each counting as two Latin letters), else "latin"."""
    cjk = sum(_is_cjk(ch) for ch in text)
    latin = sum(len(w) for w in re.findall(r"[A-Za-z]{2,}", text))
    return "cjk" if 2 * cjk >= latin and cjk else "latin"


def _scripts(title: str) -> list[str]:
    """The scripts a title is written in: each that carries at least 30% of it ("灰色轻薄手机 / Grey slim phone": both;
    "Beats Fit Pro无线降噪耳机蓝牙入耳式": Chinese only)."""
    cjk = 2 * sum(_is_cjk(ch) for ch in title)
    latin = sum(len(w) for w in re.findall(r"[A-Za-z]{2,}", title))
    total = cjk + latin
    return [name for name, n in (("cjk", cjk), ("latin", latin)) if total and n / total >= 0.3]


def _title_kind(title: str) -> str | None:
    """The kind an English title names: its last one or two words before specs and modifiers
    ("BrewMaster 12-Cup Programmable Coffee Maker" -> "coffee maker", "Wool Beanie" -> "beanie")."""
    half = title.split(" / ")[-1] if " / " in title else title
    if sum(_is_cjk(ch) for ch in half) or not re.search(r"[A-Za-z]{3,}", half):
        return None
    half = _EN_MODIFIER.sub("", strip_specs(half))
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z-]+", half.lower()) if w not in _TITLE_FILLER]
    if not words:
        return None
    head = _singular(words[-1])
    if len(words) >= 2 and not words[-2].endswith("-") and words[-2] not in _STOPWORDS and len(words[-2]) > 2:
        return f"{words[-2]} {head}"
    return head


@dataclass(frozen=True)
class Vocabulary:
    """Values the catalog holds, so that only real categories, brands, colours and kinds become filters."""

    categories: frozenset[str] = frozenset()
    brands: frozenset[str] = frozenset()
    title_terms: frozenset[str] = frozenset()  # CJK bigrams and Latin words of product titles
    names: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # see name_index
    colors: frozenset[str] = frozenset()  # canonical colours (红色, 蓝色 ...) some product offers
    color_words: frozenset[str] = frozenset()  # the colour values as the catalog writes them, lower case
    sizes: frozenset[str] = frozenset()  # sizes some product offers (upper case: "M", "42")
    attribute_keys: tuple[str, ...] = ()  # attribute keys, most used first
    attribute_values: dict[str, tuple[str, ...]] = field(default_factory=dict)  # key -> its values (bounded)
    currencies: dict[str, int] = field(default_factory=dict)  # ISO code -> number of products priced in it
    kinds: tuple[str, ...] = ()  # kinds of product the shop sells, most common first (categories, tags, types)
    tags: frozenset[str] = frozenset()
    product_count: int = 0
    scripts: dict[str, int] = field(default_factory=dict)  # "cjk" / "latin" -> titles written (partly) in it

    # -- what the catalog holds -------------------------------------------------------------------
    @property
    def currency(self) -> str:
        """The shop's main currency: the one most products are priced in (CNY for an empty catalog)."""
        return max(self.currencies.items(), key=lambda kv: (kv[1], kv[0]))[0] if self.currencies else "CNY"

    def writes_in(self, text: str) -> bool:
        """Whether the catalog's titles are written in the script of `text` (at least a third of them), so that a
        word missing from every title is really not sold, and not just said in another language."""
        return self.scripts.get(_script(text), 0) * 3 >= max(self.product_count, 1)

    def has_term(self, term: str) -> bool:
        """Whether a word or phrase occurs in some product title (a CJK bigram of it, or its Latin words)."""
        return bool(self.product_terms(term))

    # -- product names spelled out ----------------------------------------------------------------
    def named_products(self, text: str) -> list[str]:
        """Ids of the products whose name the text spells out ("the Grey slim phone", "龙井茶叶"), in text order.

        A name is one language half of a title without its trailing specs ("256GB"); the longest name wins where
        names overlap, and a name that fits several products names none of them (it is a kind, not a product).
        """
        return list(dict.fromkeys(pid for _, _, pid in self.name_spans(text)))

    def without_names(self, text: str) -> str:
        """The text with the product names it spells out blanked ("How big is the battery on the ?")."""
        low = re.sub(r"\s+", " ", text)
        for start, stop, _ in reversed(self.name_spans(low)):
            low = low[:start] + " " + low[stop:]
        return re.sub(r" {2,}", " ", low)

    def name_spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, stop, product id) of each product name in `text` (whitespace runs count as one space)."""
        low = re.sub(r"\s+", " ", text.lower())
        spans: dict[tuple[int, int], set[str]] = {}
        for i in range(len(low) - 1):
            for name, pid in self.names.get(low[i:i + 2], ()):
                if low.startswith(name, i):
                    spans.setdefault((i, i + len(name)), set()).add(pid)
        out: list[tuple[int, int, str]] = []
        end = -1
        for (start, stop), pids in sorted(spans.items(), key=lambda kv: (kv[0][0], kv[0][0] - kv[0][1])):
            if start < end:
                continue  # inside a longer name already read
            end = stop
            if len(pids) == 1:
                out.append((start, stop, next(iter(pids))))
        return out

    # -- kinds of product -------------------------------------------------------------------------
    def names_product(self, words: str) -> bool:
        """Whether `words` contain a term of some product title (a CJK bigram or a Latin word of 3+ letters)."""
        return bool(self.product_terms(words))

    def product_terms(self, words: str) -> set[str]:
        """The title terms (CJK bigrams, Latin words and word pairs) that `words` contain. A colour word alone is not
        a kind of product, but a title's own phrase that starts with one is ("coffee maker", "gold necklace")."""
        plain = title_terms([strip_colors(words)])
        pairs = {t for t in title_terms([words]) if " " in t}
        return (plain | pairs) & self.title_terms

    def head_term(self, words: str) -> str | None:
        """The last title term in `words`: the head noun of a product phrase ("无线耳机" -> "耳机").

        An English phrase's head comes before its modifiers: "running shoes in size 39" -> "running shoe",
        "a cutting board for my new flat" -> "cutting board".
        """
        if _EN_MODIFIER.search(words) and self.product_terms(_EN_MODIFIER.sub("", words)):
            words = _EN_MODIFIER.sub("", words)
        t = "".join(_singular(w) if w.isascii() and w.isalpha() else w
                    for w in re.findall(r"[a-z]{3,}|[^a-z]+", words.lower()))
        t = re.sub(r"\s+", " ", t)
        best: tuple[int, str] | None = None
        for term in self.product_terms(words):
            if term in _NOT_HEADS or term.split()[-1] in _NOT_HEADS:
                continue
            pos = t.rfind(term)
            if best is None or pos + len(term) > best[0] or (pos + len(term) == best[0] and len(term) > len(best[1])):
                best = (pos + len(term), term)
        return best[1] if best else None

    def kind_phrase(self, words: str) -> str | None:
        """The kind of product `words` name, as this catalog's titles write it: "60升的电热水器" -> "电热水器",
        "有没有燃气热水器" -> "燃气热水器", "coffee makers under 100" -> "coffee maker"; None when the titles hold none.

        Chinese names its head last: the longest tail of the last Chinese run whose every character pair occurs
        in some title. English: `head_term`.
        """
        text = strip_colors(words)
        cjk = [m for m in re.finditer(r"[\u3400-\u9fff]{2,}", text) if len(_PARTICLES.sub("", m.group())) >= 2]
        latin = list(re.finditer(r"[a-z]{3,}", text))
        if cjk and (not latin or cjk[-1].end() > latin[-1].end()):
            for run in reversed(cjk):
                r = _PARTICLES.sub("", run.group())
                for i in range(len(r) - 1):
                    tail = r[i:]
                    if all(tail[j:j + 2] in self.title_terms for j in range(len(tail) - 1)):
                        return tail
        return self.head_term(words)

    # -- persistence ------------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """JSON-able form (lists and dicts of strings and numbers), for the index cache."""
        state: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, frozenset):
                value = sorted(value)
            elif f.name == "names":
                value = {k: [list(pair) for pair in v] for k, v in value.items()}
            elif f.name == "attribute_values":
                value = {k: list(v) for k, v in value.items()}
            elif isinstance(value, tuple):
                value = list(value)
            state[f.name] = value
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Vocabulary:
        """The vocabulary `to_state` wrote (unknown keys are ignored, missing ones take their defaults)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in state:
                continue
            raw = state[f.name]
            if f.name == "names":
                values[f.name] = {k: tuple((str(a), str(b)) for a, b in v) for k, v in raw.items()}
            elif f.name == "attribute_values":
                values[f.name] = {k: tuple(v) for k, v in raw.items()}
            elif f.name in ("currencies", "scripts"):
                values[f.name] = {str(k): int(v) for k, v in raw.items()}
            elif f.name == "product_count":
                values[f.name] = int(raw)
            elif isinstance(f.default, tuple) or f.name in ("attribute_keys", "kinds"):
                values[f.name] = tuple(raw)
            else:
                values[f.name] = frozenset(raw)
        return cls(**values)


def _attr_pairs(meta: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for pair in meta.get("attrs") or ():
        key, sep, value = str(pair).partition("\t")
        if sep:
            out.append((key.strip(), value.strip()))
    return out


def build_vocabulary(ids: Sequence[str], titles: Sequence[str], metas: Sequence[dict[str, Any]]) -> Vocabulary:
    """The vocabulary of a catalog from its ids, titles and filter metadata (one pass over the rows)."""
    categories: Counter[str] = Counter()
    brands: set[str] = set()
    colors: set[str] = set()
    color_words: set[str] = set()
    sizes: set[str] = set()
    keys: Counter[str] = Counter()
    values: dict[str, dict[str, None]] = {}
    currencies: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    scripts: Counter[str] = Counter()
    for title, meta in zip(titles, metas, strict=True):
        scripts.update(_scripts(title))
        if meta.get("category"):
            categories[meta["category"]] += 1
        if meta.get("brand"):
            brands.add(meta["brand"])
        colors.update(meta.get("colors") or ())
        sizes.update(str(s).upper() for s in meta.get("sizes") or ())
        if meta.get("price") is not None:
            currencies[str(meta.get("currency") or "CNY")] += 1
        for tag in meta.get("tags") or ():
            tags[str(tag)] += 1
        for key, value in _attr_pairs(meta):
            keys[key] += 1
            seen = values.setdefault(key, {})
            if len(seen) < MAX_VALUES_PER_KEY:
                seen[value] = None
            low = key.lower()
            if low in ("颜色", "color", "colour", "顏色") and normalize_color(value):
                color_words.add(value.lower())
            if low in KIND_KEYS and len(value) <= 20:
                kinds[value] += 1
        kind = _title_kind(title)
        if kind:
            kinds[kind] += 1
    for cat, n in categories.items():
        kinds[cat] += n
    for tag, n in tags.items():
        if len(tag) <= 20:
            kinds[tag] += n
    return Vocabulary(
        categories=frozenset(categories), brands=frozenset(brands), title_terms=title_terms(titles),
        names=name_index(zip(ids, titles, strict=True)), colors=frozenset(colors), color_words=frozenset(color_words),
        sizes=frozenset(sizes), attribute_keys=tuple(k for k, _ in keys.most_common()),
        attribute_values={k: tuple(v) for k, v in values.items()}, currencies=dict(currencies),
        kinds=tuple(k for k, _ in kinds.most_common(MAX_KINDS)), tags=frozenset(tags), product_count=len(ids),
        scripts=dict(scripts),
    )
