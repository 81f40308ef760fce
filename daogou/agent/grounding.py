"""Check a reply against the catalog facts of the conversation, sentence by sentence, before it is shown.

Rules (a sentence that breaks one is removed, and the removal is reported):
- a price mention (a number with ¥/￥/$/€/£/元/块/美元/CNY/USD/RMB/yuan/dollars, or after 价格/售价/price/costs/for)
  must equal, to the cent, a price (or the top of a price range) of a product shown in this conversation or a
  number the shopper typed;
- a product id (any catalog's shape: `SKU-1092`, `100042754736`) must belong to a product shown in this
  conversation or one the shopper typed;
- "free"/"免费"/"0元" claims are allowed only if a shown product costs 0;
- a colour word must be a colour of a product shown this turn, or a colour the shopper said;
- text in quotes (「…」, “…”, "…") must be part of a shown product's title;
- an attribute given a value ("材质：蓝色", "material: blue") must hold a value that attribute has for a product
  shown this turn (a colour is never a material);
- no instruction leaks out ("the shopper said", "Product data", "recommend … to the user", "顾客说", "商品数据");
- no long echo of the shopper's own message, no broken character (U+FFFD), and the sentence is in the
  shopper's language (catalog names and values aside).
Streaming: `SentenceGate` buffers tokens up to a sentence end, checks the sentence, then releases it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from daogou.ingest.vocab import colors_in_text

__all__ = ["Facts", "SentenceGate", "check_sentence", "ground_text", "split_sentences"]

_CUR_NUM = re.compile(
    r"(?:(?:[¥￥$€£₩₹]|[A-Z]{2}\$|JP¥|usd|cny|rmb|eur|gbp)\s*(\d+(?:,\d{3})*(?:\.\d+)?))"
    r"|(?:(\d+(?:,\d{3})*(?:\.\d+)?)\s*(?:元|块|美元|欧元|英镑|港元|日元|cny|rmb|yuan|kuai|usd|eur|gbp|dollars?|bucks|"
    r"euros?|pounds?)(?![a-z]))"
    r"|(?:(?:价格|售价|价钱|只要|仅需|仅售|原价|现价|price[sd]?|costs?|priced at|for only|only)\s*(?:是|为|:|：|of)?\s*"
    r"(?:[¥￥$€£]|usd|cny)?\s*(\d+(?:,\d{3})*(?:\.\d+)?))", re.I)
# tokens shaped like a product id: letters/digits with a digit, or a long digit run ("SKU-1092", "100042754736")
_ID = re.compile(r"(?<![A-Za-z0-9_\-.$¥￥€£])([A-Za-z][A-Za-z0-9]*[-_]?\d[A-Za-z0-9_\-]*|\d{8,})(?![A-Za-z0-9_\-])")
# the prompt's own words coming back out, or the model describing the conversation instead of speaking in it
_LEAK = re.compile(
    r"(the shopper|shopper'?s|^\s*shopper\s*:|^\s*products?\s*:|the user\b|the customer (said|says|wants|asked)|"
    r"product data|data only|conditions:|\bproducts? \d\b|\bthe (first|second) product\b|"
    r"situation:|\binstructions?\b|as an ai|language model|recommend .{0,60} to (the|this) (user|customer|shopper)|"
    r"顾客说|顾客的|^\s*顾客[:：]|用户说|商品数据|商品资料|数据中|仅供参考的数据|条件：|指令|作为(一个)?(ai|人工智能|语言模型)|"
    r"推荐给顾客|向顾客推荐|第\s*\d\s*件商品|商品\s*\d(?!\d)|\|\s*[$¥￥€£]?\d|"
    r"say so honestly|system prompt|<\|im_(?:start|end)\|>|</?tool_call>|^\s*(?:assistant|user|system)\s*:|"
    r"购物者|(?:顾客|用户)问[:：]|(?:如实|诚实)(?:说明|告知|回答)|系统提示|(?:推荐|介绍)给用户|最符合(?:顾客|用户)|"
    r"用[一1]到[三3]句话|回答(?:顾客|用户)|只说|用一句话|一个具体特点|from the data|in one sentence|concrete feature)",
    re.I)
_ATTR_VALUE = re.compile(r"([\u4e00-\u9fffA-Za-z ]{1,12}?)\s*(?:[:：]|是|为|\bis\b)\s*([^，,。.;；!！?？\s]{1,16})")
_MATERIAL_KEYS = ("材质", "面料", "材料", "material", "fabric")
ECHO_CHARS = 16  # a run this long copied from the shopper's message (outside a catalog title) is an echo
_FREE = re.compile(r"(免费|不要钱|白送|0\s*元|零元|\bfree\b|costs? nothing|for nothing|\$0\b|¥0\b)", re.I)
_QUOTED = re.compile(r"[「“\"『]([^」”\"』]{2,60})[」”\"』]")
_SENT_END = re.compile(r"([。！？!?；;\n]|\.(?=\s|$))")
# While streaming, a "." at the end of what has arrived may be a decimal point ("95." then "9"): wait for more.
_SENT_END_STREAM = re.compile(r"([。！？!?；;\n]|\.(?=\s))")


@dataclass
class Facts:
    """What a reply may state: prices, ids, titles and colours from the conversation's tool results."""

    prices: set[float] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    titles: list[str] = field(default_factory=list)
    colors: set[str] = field(default_factory=set)
    user_numbers: set[float] = field(default_factory=set)
    user_colors: set[str] = field(default_factory=set)
    user_ids: set[str] = field(default_factory=set)  # id-shaped tokens the shopper typed
    user_texts: list[str] = field(default_factory=list)
    attributes: dict[str, set[str]] = field(default_factory=dict)  # lower-case key -> values (this turn)
    catalog_words: list[str] = field(default_factory=list)  # titles, brands, values: quotable in any language
    lang: str = ""  # the shopper's language ("zh"/"en"); "" = not checked
    prompt_texts: list[str] = field(default_factory=list)  # the instructions the model was given (never repeated)
    allowed: set[str] = field(default_factory=set)  # ids of the products this reply may speak of (empty: any shown)
    # each product shown this turn: (its names, its attribute values, its prices)
    shown: list[tuple[list[str], set[str], set[float]]] = field(default_factory=list)
    shown_ids: list[str] = field(default_factory=list)  # ids of `shown`, in order

    @classmethod
    def build(cls, products: Iterable[dict], *, this_turn: Iterable[dict] = (), user_texts: Iterable[str] = ()
              ) -> Facts:
        """Facts from product dicts (id, title, price, attributes) and what the shopper typed."""
        f = cls()
        for p in products:
            f.ids.add(str(p["id"]))
            f.titles.append(str(p.get("title", "")))
            for key in ("price", "price_max"):
                if p.get(key) is not None:
                    f.prices.add(round(float(p[key]), 2))
            f.catalog_words += [str(p.get("title", "")), str(p.get("brand", "") or ""), str(p.get("category", ""))]
        for p in this_turn:
            attrs = p.get("attributes") or {}
            blob = " ".join([str(p.get("title", ""))] + [str(v) for v in attrs.values()])
            f.colors.update(colors_in_text(blob))
            for k, v in attrs.items():
                f.attributes.setdefault(str(k).strip().lower(), set()).add(str(v).strip().lower())
                f.catalog_words += [str(k), str(v)]
            names = [h.strip().lower() for h in str(p.get("title", "")).split(" / ") if len(h.strip()) >= 4]
            prices = {round(float(p[k]), 2) for k in ("price", "price_max") if p.get(k) is not None}
            f.shown.append((names, {str(v).strip().lower() for v in attrs.values() if len(str(v).strip()) >= 2},
                            prices))
            f.shown_ids.append(str(p["id"]))
        for t in user_texts:
            f.user_numbers.update(float(x.replace(",", "")) for x in re.findall(r"\d+(?:,\d{3})*(?:\.\d+)?", t))
            f.user_colors.update(colors_in_text(t))
            f.user_ids.update(m.group(1).upper() for m in _ID.finditer(t))
            f.user_texts.append(t)
        f.catalog_words = sorted({w for w in f.catalog_words if w.strip()}, key=len, reverse=True)
        return f


def split_sentences(text: str) -> list[str]:
    """Split after 。！？!?；; newlines and ". " — keeping the punctuation with its sentence."""
    parts, start = [], 0
    for m in _SENT_END.finditer(text):
        parts.append(text[start:m.end()])
        start = m.end()
    if start < len(text):
        parts.append(text[start:])
    return [p for p in parts if p.strip()]


def check_sentence(sentence: str, facts: Facts) -> list[str]:
    """Reasons this sentence is not grounded (empty list: it may be shown)."""
    problems = []
    for m in _CUR_NUM.finditer(sentence):
        raw = next(g for g in m.groups() if g)
        value = round(float(raw.replace(",", "")), 2)
        if value not in facts.prices and value not in facts.user_numbers:
            problems.append(f"price {raw} is not the price of any product shown")
    known = {i.upper() for i in facts.ids} | facts.user_ids
    for m in _ID.finditer(sentence):
        pid = m.group(1)
        if pid.upper() not in known and _looks_like_id(pid) and not any(pid in t for t in facts.titles):
            problems.append(f"product id {pid} was never shown")
    if _FREE.search(sentence) and 0.0 not in facts.prices:
        problems.append("claims something is free")
    for c in colors_in_text(sentence):
        if facts.colors and c not in facts.colors and c not in facts.user_colors:
            problems.append(f"colour {c} is not a colour of the products shown")
    for q in _QUOTED.findall(sentence):
        if facts.titles and not any(q.strip() in t or t in q for t in facts.titles):
            problems.append(f"quoted name {q!r} is not a catalog title")
    problems += _leaks(sentence) + _wrong_values(sentence, facts) + _echo(sentence, facts) + _language(sentence, facts)
    problems += _crossed(sentence, facts)
    if "\ufffd" in sentence:
        problems.append("a broken character")
    return problems


def _looks_like_id(token: str) -> bool:
    """A token shaped like an id, not a spec ("256GB", "5G", "IPX7", "SPF50", "2024", "1.7L")."""
    return bool(re.fullmatch(r"[A-Za-z]{1,6}[-_]\d{2,}[\w\-]*|[A-Z]{1,3}\d{3,}|\d{8,}", token))


def _leaks(sentence: str) -> list[str]:
    m = _LEAK.search(sentence)
    return [f"instruction leak {m.group(0)!r}"] if m else []


def _wrong_values(sentence: str, facts: Facts) -> list[str]:
    """An attribute of the products shown, stated with a value none of them has for it ("材质：蓝色")."""
    problems = []
    low = sentence.lower()
    for m in _ATTR_VALUE.finditer(low):
        key, value = m.group(1).strip(), m.group(2).strip()
        key = next((k for k in facts.attributes if k and key.endswith(k)), "")
        if not key or not value:
            continue
        values = facts.attributes[key]
        if not any(value in v or v in value for v in values):
            if key in _MATERIAL_KEYS and colors_in_text(value) or not re.fullmatch(r"[\d.]+", value):
                problems.append(f"{key} is not {value!r} for the products shown ({', '.join(sorted(values))[:60]})")
    return problems


def _crossed(sentence: str, facts: Facts) -> list[str]:
    """A sentence about one product shown that gives it another product's value or price ("the knife set has a
    power of 1500 W", where 1500 W is the kettle's)."""
    low = sentence.lower()
    named = [i for i, (names, _, _) in enumerate(facts.shown) if any(n in low or n[:12] in low for n in names)]
    if facts.allowed:
        others = [facts.shown[i][0][0] for i in named if facts.shown_ids[i] not in facts.allowed]
        if others:
            return [f"speaks of {others[0]!r}, not the product it was asked about"]
    if len(named) != 1:
        return []
    _, own_values, own_prices = facts.shown[named[0]]
    own_text = " ".join(facts.shown[named[0]][0])
    said_prices = {round(float((next(g for g in m.groups() if g)).replace(",", "")), 2)
                   for m in _CUR_NUM.finditer(sentence)}
    for i, (_, values, prices) in enumerate(facts.shown):
        if i == named[0]:
            continue
        for v in values - own_values:
            if v in low and v not in own_text and not any(v in o or o in v for o in own_values):
                return [f"gives {facts.shown[named[0]][0][0]!r} the value {v!r} of another product"]
        if (said_prices & prices) - own_prices:
            return [f"gives {facts.shown[named[0]][0][0]!r} the price of another product"]
    return []


def _echo(sentence: str, facts: Facts) -> list[str]:
    """A long run of the shopper's own words copied into the reply (outside catalog titles)."""
    s = sentence
    for w in facts.catalog_words:
        if len(w) >= 4:
            s = s.replace(w, " ")
    for t in facts.user_texts + facts.prompt_texts:
        if len(t) < ECHO_CHARS:
            continue
        for i in range(0, len(t) - ECHO_CHARS + 1, 4):
            if t[i:i + ECHO_CHARS] in s:
                return ["echoes the shopper's message" if t in facts.user_texts else "repeats its instructions"]
    return []


def _language(sentence: str, facts: Facts) -> list[str]:
    """A sentence in the other language than the shopper's (catalog names and values do not count)."""
    if not facts.lang:
        return []
    s = sentence
    for w in facts.catalog_words:
        if len(w) >= 2:
            s = s.replace(w, " ")
    han = len(re.findall(r"[\u4e00-\u9fff]", s))
    latin = len(re.findall(r"[A-Za-z]{2,}", s))
    if facts.lang == "en" and han > 2 * max(latin, 1):
        return ["not in English"]
    if facts.lang == "zh" and latin > 3 and han < latin:
        return ["not in Chinese"]
    return []


def ground_text(text: str, facts: Facts) -> tuple[str, list[str]]:
    """The text with ungrounded sentences removed, and what was removed and why."""
    kept, removed = [], []
    for s in split_sentences(text):
        problems = check_sentence(s, facts)
        if problems:
            removed.append(f"{s.strip()} ({'; '.join(problems)})")
        else:
            kept.append(s)
    return "".join(kept).strip(), removed


class SentenceGate:
    """Streaming filter: feed tokens, get back only checked sentences; `close()` flushes the tail."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.buffer = ""
        self.removed: list[str] = []

    def feed(self, token: str) -> str:
        """Add a token; return the text of any complete, grounded sentences."""
        self.buffer += token
        out = []
        while True:
            m = _SENT_END_STREAM.search(self.buffer)
            if not m:
                break
            sentence, self.buffer = self.buffer[:m.end()], self.buffer[m.end():]
            out.append(self._check(sentence))
        return "".join(out)

    def close(self, *, complete: bool = True) -> str:
        """Check and release what is left in the buffer. `complete=False` (the model ran out of tokens): a tail
        that does not end a sentence was cut off mid-phrase, and is removed."""
        tail, self.buffer = self.buffer, ""
        if not tail.strip():
            return ""
        if not complete and not re.search(r"[。！？!?.)）\"”」]\s*$", tail):
            self.removed.append(f"{tail.strip()} (cut off mid-sentence)")
            return ""
        return self._check(tail)

    def _check(self, sentence: str) -> str:
        problems = check_sentence(sentence, self.facts)
        if problems:
            self.removed.append(f"{sentence.strip()} ({'; '.join(problems)})")
            return ""
        return sentence
