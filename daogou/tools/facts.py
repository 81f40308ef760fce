"""Catalog facts of a product: labelled fields for prompts, and the bilingual question -> attribute table.

`product_facts` turns a Product into (label, value) pairs. `CONCEPTS` maps the words a shopper uses in a
question ("防水", "what material", "多少钱", "有货") to the attribute keys and catalog fields that answer it;
`find_facts` applies it, resolves yes/no questions about sizes, colours, stock and yes/no attributes
against the stored value, and otherwise looks for title, tag and description sentences that share the
question's keywords. It only ever returns text that the record holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from daogou.ingest.schema import Product, Variant
from daogou.ingest.vocab import color_names_en, colors_in_text, normalize_color, split_values
from daogou.tools.vocabulary import KIND_KEYS

__all__ = [
    "CONCEPTS",
    "CORE_FIELDS",
    "LANGS",
    "Concept",
    "Fact",
    "FoundFacts",
    "compare_key",
    "field_label",
    "find_facts",
    "price_text",
    "product_facts",
    "stock_text",
    "topic_label",
    "variants_text",
]

LANGS = ("zh", "en")
CORE_FIELDS = ("id", "title", "category", "brand", "price", "stock", "variants", "tags", "description", "url")
_LABELS = {
    "zh": {"id": "编号", "title": "名称", "category": "类目", "brand": "品牌", "price": "价格", "stock": "库存",
           "variants": "款式", "tags": "标签", "description": "描述", "url": "链接"},
    "en": {f: f for f in CORE_FIELDS},
}


@dataclass(frozen=True)
class Fact:
    """One thing the catalog says: the field or attribute, its value, and where it came from."""

    field: str
    value: str
    # "attributes" | "price" | "stock" | "brand" | "category" | "variants" | "title" | "tags" | "description"
    source: str


def field_label(name: str, lang: str = "zh") -> str:
    """Display label of a core catalog field."""
    return _LABELS[lang][name]


# how a price is written in each currency: a symbol before the amount (en) or a word after it (zh)
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CNY": "¥", "HKD": "HK$", "CAD": "CA$", "AUD": "A$", "JPY": "JP¥",
            "KRW": "₩", "INR": "₹", "TWD": "NT$", "SGD": "S$"}
_ZH_WORDS = {"CNY": "元", "USD": "美元", "EUR": "欧元", "GBP": "英镑", "HKD": "港元", "JPY": "日元"}


def _amount(price: float) -> str:
    return f"{price:,.2f}".rstrip("0").rstrip(".") if price >= 10_000 else f"{price:.2f}".rstrip("0").rstrip(".")


def price_text(price: float | None, currency: str, lang: str = "zh", high: float | None = None) -> str:
    """A price as a shopper reads it, in the product's own currency: "199元", "¥199", "$73.49", "73.49美元".

    Chinese: CNY as "199元", other currencies with their symbol ("$73.49") or, without one, "73.49 CHF". English:
    the symbol before the amount ("$73.49", "¥199"), else "73.49 CHF". With `high` (the variants' prices differ)
    a range: "$18.5–21", "199–219元". "" when there is no price.
    """
    if price is None:
        return ""
    amount = _amount(price) + (f"–{_amount(high)}" if high is not None and high != price else "")
    code = (currency or "CNY").upper()
    if lang == "zh" and code == "CNY":
        return f"{amount}元"
    if code in _SYMBOLS:
        return f"{_SYMBOLS[code]}{amount}"
    if lang == "zh" and code in _ZH_WORDS:
        return f"{amount}{_ZH_WORDS[code]}"
    return f"{amount} {code}"


def variants_text(product: Product, lang: str = "zh", limit: int = 20,
                  variants: Sequence[Variant] | None = None) -> str:
    """"Red / S 19.99 USD (in stock (5)); Blue / L 18.5 USD (out of stock)": each variant's options, price and
    stock (of `variants`, default all the product's), at most `limit` of them."""
    chosen = list(product.variants if variants is None else variants)
    parts = []
    for v in chosen[:limit]:
        bits = [v.label(), price_text(v.price, product.currency, lang)]
        if v.stock is not None:
            bits.append(f"（{stock_text(v.stock, lang)}）" if lang == "zh" else f"({stock_text(v.stock, lang)})")
        parts.append(" ".join(b for b in bits if b))
    if len(chosen) > limit:
        parts.append(f"另有{len(chosen) - limit}款" if lang == "zh" else f"and {len(chosen) - limit} more")
    return ("；" if lang == "zh" else "; ").join(parts)


def stock_text(stock: int | None, lang: str = "zh") -> str:
    """"有货（3件）" / "缺货" / "in stock (3)" / "" when the catalog does not say."""
    if stock is None:
        return ""
    if lang == "zh":
        return f"有货（{stock}件）" if stock > 0 else "缺货"
    return f"in stock ({stock})" if stock > 0 else "out of stock"


def product_facts(product: Product, lang: str = "zh", *, fields: Sequence[str] = CORE_FIELDS,
                  attributes: bool = True) -> list[tuple[str, str]]:
    """(label, value) pairs of the product's non-empty fields (those in `fields`) and attributes, in a fixed order.

    Order: id, title, category, brand, price (a range when the variants' prices differ), stock, the
    attributes as stored, variants (options, price, stock of each), tags, description, url. Image paths are
    left out (not facts a shopper reads). Empty fields are left out: absent means unknown.
    """
    span = product.price_range()
    values = {
        "id": product.id, "title": product.title, "category": product.category, "brand": product.brand,
        "price": price_text(span[0], product.currency, lang, span[1]) if span else "",
        "stock": stock_text(product.stock, lang), "variants": variants_text(product, lang),
        "tags": "、".join(product.tags) if lang == "zh" else ", ".join(product.tags),
        "description": product.description, "url": product.url,
    }
    out = [(field_label(f, lang), values[f]) for f in CORE_FIELDS[:6] if f in fields and values[f]]
    if attributes:
        out += [(k, v) for k, v in product.attributes.items() if v]
    out += [(field_label(f, lang), values[f]) for f in CORE_FIELDS[6:] if f in fields and values[f]]
    return out


@dataclass(frozen=True)
class Concept:
    """Something shoppers ask about: question cue words, attribute keys that hold it, or a catalog field."""

    name: str
    cues: tuple[str, ...]  # lower case; Latin cues match whole words
    keys: tuple[str, ...] = ()  # attribute keys, lower case; a key containing one of these counts
    field: str | None = None


CONCEPTS: tuple[Concept, ...] = (
    Concept("price", ("价格", "多少钱", "价钱", "售价", "几块钱", "多少元", "贵不贵", "贵吗", "price", "cost",
                      "how much"), ("价格", "price"), "price"),
    Concept("stock", ("库存", "有货", "现货", "缺货", "卖完", "断货", "还有吗", "stock", "available",
                      "availability", "sold out"), ("库存",), "stock"),
    Concept("brand", ("品牌", "牌子", "brand", "who makes", "made by"), ("品牌", "brand"), "brand"),
    Concept("category", ("类目", "分类", "category"), (), "category"),
    Concept("waterproof", ("防水", "防泼水", "怕水", "淋雨", "下雨", "waterproof", "water-resistant",
                           "water resistant", "rain"), ("防水", "防水等级", "waterproof", "water resistance")),
    Concept("material", ("材质", "面料", "材料", "成分", "什么做的", "用料", "material", "fabric", "made of",
                         "what is it made"), ("材质", "面料", "材料", "成分", "material", "fabric")),
    Concept("size", ("尺码", "码数", "几码", "码", "size", "sizes"), ("尺码", "鞋码", "size")),
    Concept("dimensions", ("尺寸", "大小", "多长", "多宽", "多高", "dimensions", "how big", "how large"),
            ("尺寸", "规格", "dimensions")),
    Concept("color", ("颜色", "什么色", "色号", "colour", "color", "colours", "colors"),
            ("颜色", "色号", "color", "colour")),
    Concept("capacity", ("容量", "毫升", "几升", "能装", "capacity", "volume", "how big"),
            ("容量", "capacity", "volume")),
    Concept("net_content", ("净含量", "含量", "多少克", "几克", "分量", "net content", "net weight", "how big"),
            ("净含量", "含量", "净重")),
    Concept("weight", ("重量", "多重", "多沉", "重不重", "重吗", "沉吗", "沉不沉", "weight", "how heavy", "heavy"),
            ("重量", "净重", "weight")),
    Concept("origin", ("产地", "哪里产", "哪产", "哪里生产", "原产", "origin", "made in", "where is it made"),
            ("产地", "原产地", "origin")),
    Concept("warranty", ("保修", "质保", "包修", "保修期", "质保期", "售后", "保障", "warranty", "guarantee",
                         "guaranteed"), ("保修", "质保", "包修", "售后", "warranty", "guarantee")),
    Concept("installation", ("安装", "安装费", "装机", "上门安装", "install", "installation", "installed", "assembly",
                             "assemble", "set up"), ("安装", "安装费", "installation", "assembly")),
    Concept("delivery", ("配送", "发货", "运费", "包邮", "送货", "快递", "几天到", "shipping", "ship", "ships",
                         "delivery", "deliver"), ("配送", "发货", "运费", "shipping", "delivery")),
    Concept("returns", ("退货", "退换", "换货", "无理由", "退款", "return", "returns", "refund", "exchange"),
            ("退货", "退换", "return", "returns")),
    Concept("power", ("功率", "多少瓦", "几瓦", "耗电", "power", "wattage", "watts"), ("功率", "power", "wattage")),
    Concept("energy", ("能效", "能耗", "省电", "energy", "efficiency"), ("能效", "能效等级", "energy")),
    Concept("battery", ("续航", "电池", "待机", "battery"), ("续航", "电池", "battery")),
    Concept("shelf_life", ("保质期", "过期", "能放多久", "shelf life", "expiry", "expire"), ("保质期", "shelf life")),
    Concept("suitable", ("适用", "适合", "suitable", "suit", "for whom"), ("适用", "适用人群", "适用场景")),
    Concept("skin", ("肤质", "皮肤", "干皮", "油皮", "skin"), ("适用肤质",)),
    Concept("age", ("年龄", "几岁", "多大的孩子", "age"), ("适用年龄", "适用阶段")),
    Concept("flavour", ("口味", "味道", "什么味", "flavor", "flavour", "taste"), ("口味", "flavor", "flavour")),
    Concept("scent", ("香味", "香型", "香调", "什么香", "气味", "scent", "smell", "fragrance"),
            ("香型", "香调", "香味", "scent", "fragrance")),
    Concept("author", ("作者", "谁写", "author", "who wrote"), ("作者", "author")),
    Concept("publisher", ("出版社", "publisher"), ("出版社", "publisher")),
    Concept("screen", ("屏幕", "屏", "screen", "display"), ("屏幕", "screen")),
    Concept("thickness", ("厚度", "多厚", "厚不厚", "thick", "thickness"), ("厚度", "thickness")),
)
_BY_NAME = {c.name: c for c in CONCEPTS}
_EXACT_KEY = {k: c.name for c in CONCEPTS for k in c.keys}
_YES = {"是", "有", "支持", "可以", "防水", "yes", "y", "true", "✓", "√"}
_NO = {"否", "无", "不", "不支持", "不可以", "no", "n", "false", "none", "×"}
_SIZE_UPPER = re.compile(r"(?<![A-Za-z0-9])(XXXL|XXL|XL|XXS|XS|[2-4]XL|S|M|L)(?![A-Za-z0-9])")
_SIZE_CUED = re.compile(r"(?i)(?<![a-z0-9])(xxxl|xxl|xl|xxs|xs|[2-4]xl|s|m|l|\d{2}(?:\.5)?)\s*(?:码|号)|"
                        r"\bsize\s*([a-z0-9]{1,4})\b")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_LATIN_WORD = re.compile(r"[a-z][a-z0-9\-]+")
_STOP_CHARS = set("这那它吗呢吧么啊呀的了你我")
_STOP_BIGRAMS = {"请问", "什么", "是不", "不是", "可以", "有没", "没有", "怎么", "多少", "一下", "是否", "一件", "一个"}
_STOP_WORDS = {"is", "it", "the", "an", "what", "does", "do", "this", "that", "of", "in", "for", "to", "and", "or",
               "any", "have", "has", "you", "your", "me", "my", "can", "be", "with", "how", "which", "its", "are",
               "there", "on", "will", "would", "could", "about", "much", "many", "tell", "please", "product", "one"}
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;\n])|(?<=\.)(?=\s|$)")


def topic_label(name: str, lang: str = "zh") -> str:
    """How a concept is named to the shopper: its first cue in `lang` ("waterproof" -> "防水")."""
    cues = _BY_NAME[name].cues
    pick = [c for c in cues if c.isascii() == (lang == "en")]
    return pick[0] if pick else name


def compare_key(key: str) -> str:
    """Attribute keys naming the same thing share a key ("材质", "面料", "Material" -> "material")."""
    k = key.strip().lower()
    return _EXACT_KEY.get(k, k)


def _concept_of(key: str) -> str | None:
    k = key.strip().lower()
    if k in _EXACT_KEY:
        return _EXACT_KEY[k]
    best = max(((len(ck), name) for ck, name in _EXACT_KEY.items() if len(ck) >= 2 and ck in k), default=None)
    return best[1] if best else None


def _has(text: str, word: str) -> bool:
    """Whether `word` occurs in `text` (both lower case); Latin words must match whole."""
    if re.search(r"[a-z]", word):
        return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None
    return word in text


@dataclass(frozen=True)
class FoundFacts:
    """What `find_facts` found: facts, and a yes/no verdict with its one-line reason when one follows from a value."""

    facts: list[Fact]
    verdict: bool | None
    note: str
    topics: list[str]  # concepts the question asks about
    keywords: list[str]  # the question's own content words, searched for in title, tags and description


def _asked_sizes(question: str) -> list[str]:
    found = [m.group(1) for m in _SIZE_UPPER.finditer(question)]
    for m in _SIZE_CUED.finditer(question):
        found.append(m.group(1) or m.group(2))
    return list(dict.fromkeys(s.upper() for s in found if s))


_GENERIC_CUES = frozenset({"how big", "how large", "大小", "多大"})


def _topics(q: str, sizes: list[str], colours: list[str]) -> list[str]:
    hits: list[tuple[int, str, bool]] = []
    for c in CONCEPTS:
        cues = [cue for cue in c.cues if _has(q, cue)]
        if cues:
            hits.append((min(q.find(cue) for cue in cues), c.name, all(cue in _GENERIC_CUES for cue in cues)))
    if any(not generic for _, _, generic in hits):
        hits = [h for h in hits if not h[2]]  # "How big is the battery?" asks about the battery, not any size
    names = [n for _, n, _ in sorted(hits)]
    if "price" in names and len(names) > 1:
        names.remove("price")  # "安装费多少钱", "how much is shipping": the price of that, not of the product
    for extra, asked in (("size", sizes), ("color", colours)):
        if asked and extra not in names:
            names.append(extra)
    return names


def _verdict(p: Product, fact: Fact, topic: str, sizes: list[str], colours: list[str],
             lang: str) -> tuple[bool | None, str]:
    v = fact.value
    zh = lang == "zh"
    if topic == "size" and sizes and fact.source == "attributes":
        offered = {s.upper() for s in split_values(v)}
        yes = [s for s in sizes if s in offered]
        no = [s for s in sizes if s not in offered]
        parts = ([f"有{'/'.join(yes)}码" if zh else f"{'/'.join(yes)} is available"] if yes else []) + \
                ([f"没有{'/'.join(no)}码" if zh else f"{'/'.join(no)} is not offered"] if no else [])
        said = f"{'，'.join(parts)}（{fact.field}：{v}）" if zh else f"{'; '.join(parts)} ({fact.field}: {v})"
        return not no, said
    if topic == "color" and colours and fact.source == "attributes":
        offered = {normalize_color(x) or x for x in split_values(v)} | set(colors_in_text(v))
        missing = [c for c in colours if c not in offered]
        names = "/".join(colours) if zh else "/".join(color_names_en(c) for c in colours)
        if zh:
            return not missing, f"{'有' if not missing else '没有'}{names}（{fact.field}：{v}）"
        return not missing, f"{names}: {'available' if not missing else 'not offered'} ({fact.field}: {v})"
    if topic == "stock" and fact.source == "stock" and p.stock is not None:
        yes = p.stock > 0
        return yes, (("有货，可以下单" if yes else "目前缺货") if zh else
                     ("Yes, it is in stock." if yes else "No, it is out of stock right now."))
    if fact.source == "attributes":
        norm = v.strip().lower()
        if norm in _YES or norm in _NO:
            yes = norm in _YES
            label = topic_label(topic, lang)  # the shopper's word for it, whatever the catalog's key
            if zh:
                return yes, f"{label}：{'是' if yes else '否'}" if label != topic else f"{'是' if yes else '否'}"
            return yes, f"{label}: {'yes' if yes else 'no'}" if label != topic else f"{'yes' if yes else 'no'}"
    return None, ""


def _field_fact(p: Product, name: str, lang: str) -> Fact | None:
    span = p.price_range()
    value = {"price": price_text(span[0], p.currency, lang, span[1]) if span else "",
             "stock": stock_text(p.stock, lang), "brand": p.brand, "category": p.category}[name]
    return Fact(field_label(name, lang), value, name) if value else None


def _variant_facts(p: Product, q: str, lang: str) -> list[Fact]:
    """The variants whose option values the question names ("the blue one in L"), each as one fact."""
    def hits(v: Variant) -> int:  # option values named in the question (one-letter Latin values need a cue)
        return sum(_has(q, val.lower()) for val in v.options.values() if len(val) >= 2 or not val.isascii())

    best = max((hits(v) for v in p.variants), default=0)
    if not best:
        return []
    named = [v for v in p.variants if hits(v) == best]
    return [Fact(field_label("variants", lang), variants_text(p, lang, variants=named), "variants")]


def _keyword_groups(q: str, title: str, topics: list[str], sizes: list[str],
                    colours: list[str]) -> tuple[list[tuple[str, ...]], int]:
    """Words to look for in the product's text, grouped: a passage scores one point per group it hits.

    A topic's cue words (both languages) form one group; each asked colour, each asked size and each
    remaining content word of the question (CJK bigrams, Latin words) that is not in the product's (lower
    case) `title` is a group of its own: "帐篷" in "帐篷重吗" names the product, it asks nothing. Returns the
    groups and how many of them (at the front) are named topics, colours or sizes.
    """
    groups = [tuple(c for c in _BY_NAME[t].cues if len(c) >= 2) for t in topics]
    groups += [(c, color_names_en(c)) for c in colours] + [(s.lower(),) for s in sizes if len(s) >= 2]
    groups = [g for g in groups if g]
    n_named = len(groups)
    words: list[str] = []
    for run in _CJK_RUN.findall(q):
        words += [run[i:i + 2] for i in range(len(run) - 1)]
    words += _LATIN_WORD.findall(q)
    seen = {w for g in groups for w in g} | {w for w in words if w in title}  # words naming the product itself
    for w in dict.fromkeys(words):
        if w.isascii():
            stop = w in _STOP_WORDS or len(w) < 3
        else:
            stop = bool(set(w) & _STOP_CHARS) or w in _STOP_BIGRAMS
        if not stop and w not in seen:
            groups.append((w,))
    return groups, n_named


_CLAUSE_END = re.compile(r"(?<=[，,：:])|(?=【)")
LONG_SENTENCE = 60  # a description sentence longer than this is read clause by clause


def _passages(p: Product) -> list[tuple[str, str]]:
    units = [("title", p.title)] + [("tags", t) for t in p.tags]
    for sentence in _SENTENCE_END.split(p.description):
        sentence = sentence.strip()
        if len(sentence) > LONG_SENTENCE:  # "【安装说明】…，基础安装费150元（含挂架），辅材另计。": its clauses
            units += [("description", c.strip(" ，,")) for c in _CLAUSE_END.split(sentence) if len(c.strip(" ，,")) > 1]
        elif sentence:
            units.append(("description", sentence))
    return units


# "哪个是不锈钢的？", "是纯棉的吗", "which one is stainless steel?", "is it leather?": asks whether a value applies
_ASKS_IS = re.compile(r"哪(?:个|款|一个|一款|件|一件|种|些)|是不是|是.{1,16}[吗嘛么]|[吗嘛][？?。.\s]*$|的[？?。.\s]*$|"
                      r"\bwhich\b|^(?:is|are)\b|\b(?:is|are) (?:it|this|that|they|these|those)\b", re.I)
_VALUE_STOP_CHARS = _STOP_CHARS | set("哪个是")


def _asked_terms(q: str, value_text: str) -> list[str]:
    """The words of question `q` (lower case) that `value_text` (lower case) holds: maximal CJK runs of 2+ characters
    (never a stop bigram or a run through a particle) and whole Latin words of 3+ letters that are not stop words."""
    found: list[str] = []
    for run in _CJK_RUN.findall(q):
        i = 0
        while i < len(run) - 1:
            best = ""
            for j in range(len(run), i + 1, -1):
                piece = run[i:j]
                if piece in value_text and not set(piece) & _VALUE_STOP_CHARS and piece not in _STOP_BIGRAMS:
                    best = piece
                    break
            if best:
                found.append(best)
                i += len(best)
            else:
                i += 1
    words = set(_LATIN_WORD.findall(value_text))
    found += [w for w in _LATIN_WORD.findall(q) if len(w) >= 3 and w not in _STOP_WORDS and w in words]
    return list(dict.fromkeys(found))


def _value_facts(product: Product, q: str, values: Mapping[str, Sequence[str]], lang: str,
                 keys: Sequence[str] | None = None) -> tuple[list[Fact], bool | None, str]:
    """Facts and a verdict for "is it <value>?" questions: the attribute keys (of `keys`, or any) whose values (the
    product's own, or any product's in `values`) hold the question's words, then this product's value of each key:
    yes when it holds them all. A product without that key is judged by its title, or not at all. Kind keys
    ("类型") count only alone."""
    asked: dict[str, list[str]] = {}
    own = {k: v for k, v in product.attributes.items() if v}
    for key in keys if keys is not None else dict.fromkeys([*own, *values]):
        text = "\x00".join([own.get(key, ""), *values.get(key, ())]).lower()
        terms = _asked_terms(q, text)
        if terms:
            asked[key] = terms
    if any(k.lower() not in KIND_KEYS for k in asked):
        asked = {k: t for k, t in asked.items() if k.lower() not in KIND_KEYS}
    facts: list[Fact] = []
    verdicts: list[bool] = []
    notes: list[str] = []
    title = product.title.lower()
    colon = "：" if lang == "zh" else ": "
    for key, terms in asked.items():
        value = own.get(key)
        if value is not None:
            verdicts.append(all(t in value.lower() for t in terms))
            facts.append(Fact(key, value, "attributes"))
            notes.append(f"{key}{colon}{value}")
        elif all(t in title for t in terms):
            verdicts.append(True)
            facts.append(Fact(field_label("title", lang), product.title, "title"))
            said = "、".join(terms) if lang == "zh" else ", ".join(terms)
            notes.append(f"标题写明{said}" if lang == "zh" else f"the title says {said}")
    if not facts:
        return [], None, ""
    return facts, all(verdicts), ("；" if lang == "zh" else "; ").join(dict.fromkeys(notes))


def find_facts(product: Product, question: str, lang: str = "zh", *,
               values: Mapping[str, Sequence[str]] | None = None) -> FoundFacts:
    """The catalog facts that answer `question` about `product` (see the module docstring); never a guess.

    `values` (attribute key -> values some product of the catalog holds, e.g. `Vocabulary.attribute_values`) lets an
    "is it <value>?" question find the key it asks about when this product's value differs ("是不锈钢的吗" of a
    product whose 材质 is 塑料: no).
    """
    q = question.strip().lower()
    sizes = _asked_sizes(question)
    colours = colors_in_text(question)
    topics = _topics(q, sizes, colours)
    facts: list[Fact] = []
    verdict: bool | None = None
    note = ""
    for topic in topics:
        concept = _BY_NAME[topic]
        found = [f for f in [_field_fact(product, concept.field, lang)] if f] if concept.field else []
        found += [Fact(k, v, "attributes") for k, v in product.attributes.items() if v and _concept_of(k) == topic]
        for f in found:
            if f not in facts:
                facts.append(f)
            if verdict is None:
                verdict, note = _verdict(product, f, topic, sizes, colours, lang)
    for k, v in product.attributes.items():  # an attribute named in the question, whatever its key
        if v and len(k) >= 2 and k.lower() in q and Fact(k, v, "attributes") not in facts:
            facts.append(Fact(k, v, "attributes"))
    if facts and product.variants and any(t in ("price", "stock") for t in topics):
        facts += _variant_facts(product, q, lang)  # "how much is the blue one": that variant's own price
    if _ASKS_IS.search(q):
        if not facts:  # "哪个是不锈钢的": the key whose values hold the asked word
            facts, verdict, note = _value_facts(product, q, values or {}, lang)
        elif verdict is None:  # "适合学生吗": the topic's attribute found; does its value hold the asked word?
            keys = [f.field for f in facts if f.source == "attributes"]
            _, said, said_note = _value_facts(product, q, values or {}, lang, keys)
            if said is not None:
                verdict, note = said, said_note
    groups, n_named = _keyword_groups(q, product.title.lower(), topics, sizes, colours)
    named = groups[:n_named]  # when the question names a topic, a passage must speak of it, not just share words
    if not facts:
        cjk_question = bool(_CJK_RUN.search(q))
        scored = []
        for order, (source, text) in enumerate(_passages(product)):
            low = text.lower()
            hits = [g for g in groups if any(_has(low, w) for w in g)]
            if hits and (not n_named or any(g in named for g in hits)):
                other_script = bool(_CJK_RUN.search(text)) != cjk_question  # prefer the question's language
                scored.append((-len(hits), other_script, order, Fact(field_label(source, lang), text, source)))
        facts = [s[-1] for s in sorted(scored, key=lambda s: s[:3])[:2]]
    keywords = [g[0] for g in groups[n_named:]]
    return FoundFacts(facts=facts, verdict=verdict, note=note, topics=topics, keywords=keywords)
