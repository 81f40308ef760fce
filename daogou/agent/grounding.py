"""Check a reply against the catalog facts of the conversation, sentence by sentence, before it is shown.

Rules (a sentence that breaks one is removed, and the removal is reported):
- a price mention (a number with ¥/￥/元/块/CNY/RMB/yuan, or after 价格/售价/price/costs/for) must equal, to the cent,
  the price of a product shown in this conversation or a number the shopper typed;
- a product id (P1234-style) must belong to a product shown in this conversation;
- "free"/"免费"/"0元" claims are allowed only if a shown product costs 0;
- a colour word must be a colour of a product shown this turn, or a colour the shopper said;
- text in quotes (「…」, “…”, "…") must be part of a shown product's title.
Streaming: `SentenceGate` buffers tokens up to a sentence end, checks the sentence, then releases it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from daogou.ingest.vocab import colors_in_text

__all__ = ["Facts", "SentenceGate", "check_sentence", "ground_text", "split_sentences"]

_CUR_NUM = re.compile(
    r"(?:[¥￥$]\s*(\d+(?:,\d{3})*(?:\.\d+)?))|(?:(\d+(?:,\d{3})*(?:\.\d+)?)\s*(?:元|块|cny|rmb|yuan|kuai)(?![a-z]))"
    r"|(?:(?:价格|售价|价钱|只要|仅需|仅售|原价|现价|price[sd]?|costs?|priced at|for only|only)\s*(?:是|为|:|：|of)?\s*"
    r"[¥￥$]?\s*(\d+(?:,\d{3})*(?:\.\d+)?))", re.I)
_ID = re.compile(r"\b([A-Z]{1,3}\d{3,6})\b")
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

    @classmethod
    def build(cls, products: Iterable[dict], *, this_turn: Iterable[dict] = (), user_texts: Iterable[str] = ()
              ) -> Facts:
        """Facts from product dicts (id, title, price, attributes) and what the shopper typed."""
        f = cls()
        for p in products:
            f.ids.add(str(p["id"]))
            f.titles.append(str(p.get("title", "")))
            if p.get("price") is not None:
                f.prices.add(round(float(p["price"]), 2))
        for p in this_turn:
            blob = " ".join([str(p.get("title", ""))] + [str(v) for v in (p.get("attributes") or {}).values()])
            f.colors.update(colors_in_text(blob))
        for t in user_texts:
            f.user_numbers.update(float(x) for x in re.findall(r"\d+(?:\.\d+)?", t))
            f.user_colors.update(colors_in_text(t))
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
    for pid in _ID.findall(sentence):
        if pid not in facts.ids:
            problems.append(f"product id {pid} was never shown")
    if _FREE.search(sentence) and 0.0 not in facts.prices:
        problems.append("claims something is free")
    for c in colors_in_text(sentence):
        if facts.colors and c not in facts.colors and c not in facts.user_colors:
            problems.append(f"colour {c} is not a colour of the products shown")
    for q in _QUOTED.findall(sentence):
        if facts.titles and not any(q.strip() in t or t in q for t in facts.titles):
            problems.append(f"quoted name {q!r} is not a catalog title")
    return problems


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

    def close(self) -> str:
        """Check and release what is left in the buffer."""
        tail, self.buffer = self.buffer, ""
        return self._check(tail) if tail.strip() else ""

    def _check(self, sentence: str) -> str:
        problems = check_sentence(sentence, self.facts)
        if problems:
            self.removed.append(f"{sentence.strip()} ({'; '.join(problems)})")
            return ""
        return sentence
