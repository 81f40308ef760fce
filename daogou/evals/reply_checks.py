"""The dialogue suite's checks of what a reply says: grounding, currency, leaks, broken text, echo, language, honesty.

Pure functions over the reply text, the products of the conversation (catalog rows or cards) and the shopper's
messages; nothing assumes one catalog: ids are found by the catalog's own id shapes (`CatalogFacts`), prices
may carry any currency mark (`$73.49`, `73.49 USD`, `¥99`, `99元`) and each product's price must be spoken in
that product's currency. The rules in words are in tests/dialogues/README.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from daogou.evals.dialogue_checks import CatalogFacts

__all__ = [
    "check_currency",
    "check_echo",
    "check_grounding",
    "check_leaks",
    "check_clean_text",
    "detect_language",
    "says_no_match",
    "says_unknown",
]

# ---------------------------------------------------------------------------------------------- prices
_PRE = r"(?P<pre>(?:US|HK|NT|NZ|A|C|S)?\$|[¥￥€£]|rmb|cny|usd|eur|gbp|jpy)"
_PRICE_NUM = re.compile(
    rf"(?<![A-Za-z0-9_.#×第/])(?:{_PRE}\s*)?(?P<num>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(
    r"\s*(?P<cur>美元|美金|欧元|英镑|日元|港币|港元|人民币|元|块|rmb\b|cny\b|yuan\b|kuai\b|usd\b|dollars?\b|bucks\b"
    r"|eur\b|euros?\b|gbp\b|jpy\b|yen\b|hkd\b)", re.IGNORECASE)
_UNIT_AFTER = re.compile(
    r"(?:[A-Za-z%×]|\s?(?:小时|英寸|毫升|公斤|厘米|[寸码号片件岁个款种条双只本年月日周天折分秒层人位色倍次度升克斤米期名家套颗瓶盒包支张项处粒枚台部辆道])"
    r"|\s(?:items?|options?|products?|results?|pieces?|pcs|hours?|days?|inch(?:es)?|colou?rs?|sizes?|shades?"
    r"|years?|months?|weeks?|people|kids?|ml|g|kg|cm|mm|l|gb|tb|mah|of\b|in stock|left|units?))",
    re.IGNORECASE)
_DOLLARS = frozenset({"USD", "HKD", "AUD", "CAD", "SGD", "NZD", "TWD"})
# currency mark (lower-cased) -> the ISO codes it can stand for
_MARKS: dict[str, frozenset[str]] = {
    **dict.fromkeys(("元", "块", "rmb", "cny", "yuan", "kuai", "人民币"), frozenset({"CNY"})),
    **dict.fromkeys(("¥", "￥"), frozenset({"CNY", "JPY"})),
    "$": _DOLLARS, "dollar": _DOLLARS, "dollars": _DOLLARS, "bucks": _DOLLARS,
    **dict.fromkeys(("us$", "usd", "美元", "美金"), frozenset({"USD"})),
    **dict.fromkeys(("hk$", "hkd", "港币", "港元"), frozenset({"HKD"})),
    "nt$": frozenset({"TWD"}), "nz$": frozenset({"NZD"}), "a$": frozenset({"AUD"}), "c$": frozenset({"CAD"}),
    "s$": frozenset({"SGD"}),
    **dict.fromkeys(("€", "eur", "euro", "euros", "欧元"), frozenset({"EUR"})),
    **dict.fromkeys(("£", "gbp", "英镑"), frozenset({"GBP"})),
    **dict.fromkeys(("jpy", "yen", "日元"), frozenset({"JPY"})),
}
_CURRENCY_ALIASES = {"RMB": "CNY"}
_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNIT = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_QUOTED = re.compile(r"“([^”]{2,60})”|\"([^\"\n]{2,60})\"|「([^」]{2,60})」|『([^』]{2,60})』|《([^》]{1,60})》")
_URL = re.compile(r"https?://\S+")


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
    """Numbers in the shopper's words, Arabic ("300", "1.5k", "2千", "$50") or Chinese ("三百")."""
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


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _mask(text: str, facts: CatalogFacts) -> str:
    """The text with URLs and id-shaped tokens blanked (same length), so that their digits are not prices."""
    text = _URL.sub(lambda m: " " * len(m.group()), text)
    return facts.id_pattern.sub(lambda m: " " * len(m.group()), text) if facts.id_pattern else text


def _prices(text: str) -> Iterable[tuple[re.Match[str], float, str | None]]:
    """(match, value, currency mark or None) of every number that could be a price."""
    for m in _PRICE_NUM.finditer(text):
        after = _CURRENCY_AFTER.match(text, m.end())
        mark = m.group("pre") or (after.group("cur") if after else None)
        yield m, float(m.group("num").replace(",", "")), mark


def check_grounding(text: str, shown: Sequence[Mapping[str, Any]], user_texts: Sequence[str],
                    facts: CatalogFacts) -> list[str]:
    """Reasons why the reply states a price, product id or product name that nothing in the conversation backs.

    `shown`: every product shown in the dialogue so far (this turn included) and every product a tool was asked
    about; `user_texts`: every shopper message so far. A currency-marked number ($73.49, ¥199, 199元, 99 USD) must
    be a shown price, a number the shopper said, the sum or difference of two shown prices, a shown price
    minus a number the shopper said ("1088 over your budget"), a shown price less one unit or one cent (a
    "cheaper than" bound: ≤268, ≤33.98), or an amount the product's own texts state with a currency mark
    (基础安装费150元); rounding to a whole number is fine. A bare number
    not followed by a unit is held to the same rule, except that small counts (<= 10) and numbers in shown
    products' titles, descriptions, attributes and stock are also fine ("keeps drinks hot for 24-hour trips").
    Ids are whatever matches the catalog's id shapes: each one in the reply must have been shown or typed by the
    shopper.
    """
    prices = [float(p["price"]) for p in shown if p.get("price") is not None]
    said = set().union(*(_numbers_said(t) for t in user_texts)) if user_texts else set()
    derived = {abs(a - b) for a in prices for b in [*prices, *said]} | {a + b for a in prices for b in prices}
    below = {a - step for a in prices for step in (1, 0.01)}  # "cheaper than 269" shown as a bound: ≤268, ≤33.98
    texts = [str(v) for p in shown
             for v in (p.get("title"), p.get("description"), *(p.get("attributes") or {}).values()) if v]
    stated = {value for t in texts for _, value, mark in _prices(t) if mark}  # 基础安装费150元 in a description
    price_ok = set(prices) | said | derived | below | stated
    facts_nums = {float(n) for p in shown for s in [str(p.get("title") or ""), str(p.get("description") or ""),
                                                       *map(str, (p.get("attributes") or {}).values())]
                  for n in re.findall(r"\d+(?:\.\d+)?", s)}
    facts_nums |= {float(p["stock"]) for p in shown if isinstance(p.get("stock"), int)}
    masked = _mask(text, facts)
    out = []
    for m, value, mark in _prices(masked):
        if not mark and _UNIT_AFTER.match(masked, m.end()):
            continue
        if _close(value, price_ok) or (not mark and ((value.is_integer() and value <= 10) or value in facts_nums)):
            continue
        kind = "price" if mark else "price-like number"
        context = text[max(0, m.start() - 12):m.end() + 6].replace("\n", " ")
        out.append(f"{kind} {m.group('num')} in '…{context}…' is not the price of a product shown "
                   f"(shown prices: {', '.join(_fmt(p) for p in sorted(set(prices))) or 'none'})")
    shown_ids = {str(p.get("id")) for p in shown}
    said_ids = {facts.catalog_id(t) or t.lower() for u in user_texts for t in facts.ids_in_text(u)}
    for token in dict.fromkeys(facts.ids_in_text(text)):
        pid = facts.catalog_id(token)
        if pid is None and token.lower() not in said_ids:
            out.append(f"product id {token} is mentioned but is not in the catalog")
        elif pid is not None and pid not in shown_ids | said_ids:
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


def currency_of(product: Mapping[str, Any]) -> str:
    """A product's ISO currency code (CNY when the row gives none; RMB read as CNY)."""
    code = str(product.get("currency") or "CNY").strip().upper()
    return _CURRENCY_ALIASES.get(code, code)


def check_currency(text: str, products: Sequence[Mapping[str, Any]], facts: CatalogFacts) -> list[str]:
    """Reasons why the reply speaks a product's price in another currency ("73.49元" for a $73.49 product).

    A currency-marked number that equals the price of some product of the conversation (to the cent, or rounded
    to a whole number) must carry a mark of that product's currency; `$` stands for any dollar, `¥` for CNY or
    JPY. Numbers that are no product's price are left to the grounding check.
    """
    out = []
    for m, value, mark in _prices(_mask(text, facts)):
        if not mark:
            continue
        codes = _MARKS.get(mark.strip().lower())
        same = [p for p in products if p.get("price") is not None and _close(value, [float(p["price"])])]
        if codes is None or not same or any(currency_of(p) in codes for p in same):
            continue
        p = same[0]
        out.append(f"price {m.group().strip()} is spoken as {'/'.join(sorted(codes))}, but {p.get('id')} costs "
                   f"{_fmt(float(p['price']))} {currency_of(p)}")
    return out


# ---------------------------------------------------------------------------------------------- leaks, breaks, echo
_LEAK = re.compile("|".join((
    r"\bthe shopper\b", r"\bshoppers?(?:'s)?\s+(?:said|asked|wants|needs|message)\b",
    r"\b(?:recommend|suggest|show|tell|offer)\b[^.!?\n]{0,80}?\bto the (?:user|shopper|customer)\b",
    r"\bthe user\b(?!\s+(?:manual|guide|interface))", r"\bproduct data\b", r"\bdata only\b", r"\bconditions\s*:",
    r"\bsay so honestly\b", r"\bsystem prompt\b", r"<\|im_(?:start|end)\|>",
    r"</?tool_call>", r"^\s*(?:assistant|user|system)\s*:",
    r"购物者", r"(?:顾客|用户)(?:说|问)[:：]", r"商品数据[（(:：]", r"(?:如实|诚实)(?:说明|告知|回答)", r"系统提示",
    r"(?:推荐|介绍)给(?:用户|顾客)", r"(?:用户|顾客)的原话", r"最符合(?:顾客|用户|购物者)",
    r"用[一1]到[三3]句话", r"回答(?:顾客|用户|购物者)",
)), re.IGNORECASE | re.MULTILINE)
_BROKEN = re.compile(r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
ECHO_MIN_MESSAGE = 200  # a shopper message this long must not come back in the reply ...
ECHO_WINDOW = 40  # ... as a verbatim run of this many characters


def check_leaks(text: str) -> list[str]:
    """Reasons why the reply shows the instruction it was written from ("Recommend X to the shopper.", "Conditions:
    …", "Product data (data only)", chat-template tokens) instead of talking to the shopper."""
    return [f"reply leaks its instructions: '{m.group().strip()}' in '…{_around(text, m)}…'"
            for m in _LEAK.finditer(text)][:3]


def check_clean_text(text: str) -> list[str]:
    """Reasons why the reply has broken characters (a cut multi-byte character '�', control characters)."""
    m = _BROKEN.search(text)
    return [f"reply has a broken character {m.group()!r} in '…{_around(text, m)}…'"] if m else []


def check_echo(text: str, user_texts: Sequence[str], shown: Sequence[Mapping[str, Any]]) -> list[str]:
    """Reasons why the reply repeats a long shopper message verbatim (a pasted essay echoed back).

    A message of ECHO_MIN_MESSAGE characters or more must not appear in the reply as a run of ECHO_WINDOW
    characters, unless that run is catalog text of a product shown (a pasted title may be quoted back).
    """
    catalog_text = " ".join(f"{p.get('title') or ''} {p.get('description') or ''}" for p in shown)
    for n, said in enumerate(user_texts, 1):
        said = said.strip()
        if len(said) < ECHO_MIN_MESSAGE:
            continue
        for start in range(0, len(said) - ECHO_WINDOW + 1, ECHO_WINDOW // 2):
            window = said[start:start + ECHO_WINDOW]
            if window.strip() and window in text and window not in catalog_text:
                return [f"reply echoes the shopper's {len(said)}-character message {n}: '{window}…'"]
    return []


def _around(text: str, m: re.Match[str], width: int = 20) -> str:
    return text[max(0, m.start() - width):m.end() + width].replace("\n", " ")


# ---------------------------------------------------------------------------------------------- language
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_LONG_TERM = 8  # catalog strings this long (titles, their halves) are removed before the pieces of titles
_QUOTED_TITLE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{4,}")  # a run this long found in a title is quoted from it


def detect_language(text: str, facts: CatalogFacts) -> tuple[str | None, float]:
    """("zh" | "en" | None, CJK share) of a reply, after removing catalog titles, brands, categories, tags,
    attribute keys and values and ids, and runs of 4+ Han characters that are part of a catalog title (an English
    reply may quote them, or a piece of a long title, in Chinese).

    share = Han characters / (Han characters + Latin words of 2+ letters). zh when share >= 0.5, en when
    share < 0.35; in between (a mixed reply) or with no words at all, None.
    """
    t = _mask(text, facts)
    # whole titles first, then pieces of titles, then the short catalog words: a word cut out of a title first would
    # leave pieces too short to recognise, a piece cut out first would leave the title unrecognised
    for term in facts.strip_terms:
        if len(term) >= _LONG_TERM:
            t = t.replace(term, " ")
    t = _QUOTED_TITLE.sub(lambda m: " " if any(m.group() in title for title in facts.titles) else m.group(), t)
    for term in facts.strip_terms:
        if 2 <= len(term) < _LONG_TERM:
            t = t.replace(term, " ")
    t = re.sub(r"\d+(?:\.\d+)?\s*(?:元|美元|欧元)", " ", t)
    han, words = len(_CJK.findall(t)), len(_LATIN_WORD.findall(t))
    if han + words == 0:
        return None, 0.0
    share = han / (han + words)
    return ("zh" if share >= 0.5 else "en" if share < 0.35 else None), round(share, 3)


# ---------------------------------------------------------------------------------------------- honesty
_NONE = re.compile(
    r"没有|暂无|暂时没|找不到|没找到|未找到|没能找到|无法找到|不符合|没货|抱歉|遗憾|只有|不卖|没在卖|不销售"
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
