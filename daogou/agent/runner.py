"""Run a checked tool call through the tool registry and shape what the shopper sees: cards, a lead, facts.

The tool runs through `daogou.tools.registry.call_tool` (the one dispatcher). What comes back is turned into a
`ToolOutcome`: the product cards, a fixed lead sentence built only from the result (what was found, that
nothing matched, the answer the catalog gives), and the facts block the model may phrase a recommendation from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from PIL import Image

from daogou.agent.policy import ToolCall
from daogou.agent.state import DialogueState
from daogou.ingest.filters import Filters
from daogou.prompts import render
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.catalog_search import CatalogSearch
from daogou.tools.copywriter import CopyResult
from daogou.tools.details import AnswerResult, ComparisonResult, DetailsResult
from daogou.tools.errors import ToolError
from daogou.tools.facts import CORE_FIELDS, field_label, price_text, stock_text
from daogou.tools.recommend import Interaction
from daogou.tools.registry import SimilarArgs, ToolContext, call_tool, filters_from_args
from daogou.tools.search import ProductCard, SearchRequest, SearchResult, search_products
from daogou.tools.title_heads import is_head_kind, of_kind

__all__ = ["ToolOutcome", "call_filters", "run_tool"]

MAX_OVERVIEW_KINDS = 12  # kinds named when the shop says what it sells
MAX_SAID = 40  # characters of the shopper's words a fixed sentence quotes
# fields the details reply leaves to the card (long texts, links); questions about them are answered from them
_LONG_FIELDS = {lang: {field_label(f, lang) for f in ("description", "url", "id")} for lang in ("zh", "en")}


@dataclass
class ToolOutcome:
    """What a tool call produced, ready for the faces and for the model's facts block."""

    cards: list[ProductCard] = field(default_factory=list)
    trace: str = ""
    lead: str = ""  # the fixed sentence the agent writes itself
    body: str = ""  # fixed text after the lead (details, comparison, copy)
    advise: str = ""  # "" (no model words), "turn" (a reply about these products) or "chat" (small talk)
    situation: str = ""  # what the tool found, for the model: "3 products", "the nearest, not exact"
    facts_block: str = ""
    error: str = ""
    nearest: bool = False  # the cards do not meet every constraint: they are the nearest, labelled so
    compare: bool = False  # a comparison: the table is the answer, the model may add the trade-off


def call_filters(index: CatalogIndex, args: dict) -> Filters:
    """The hard filters a call's arguments hold (the keys `policy.filters_to_args` writes)."""
    keys = set(SimilarArgs.model_fields) - {"product_id", "modality"}
    return filters_from_args(index, SimilarArgs(product_id="-", **{k: v for k, v in args.items() if k in keys}))


def facts_block(cards: list[ProductCard], lang: str) -> str:
    """The products as numbered lines of catalog facts (title, price in its currency, brand, attributes, stock)."""
    lines = []
    for n, c in enumerate(cards[:5], 1):
        attrs = ", ".join(f"{k}: {v}" for k, v in list(c.attributes.items())[:5])
        parts = [c.title, price_text(c.price, c.currency, lang) or "?", c.brand, attrs,
                 stock_text(c.stock, lang) if c.stock == 0 else ""]
        lines.append(f"{n}. " + " | ".join(p for p in parts if p))
    return "\n".join(lines)


def _list_outcome(cards: list[ProductCard], trace: str, lead: str, lang: str, *, nearest: bool = False,
                  cond: str = "") -> ToolOutcome:
    if nearest:
        situation = render("messages", "situation_nearest", lang=lang, cond=cond)
    else:
        situation = render("messages", "situation_found", lang=lang, n=len(cards), cond=cond)
    return ToolOutcome(cards=cards, trace=trace, lead=lead, advise="turn" if cards else "", situation=situation,
                       facts_block=facts_block(cards, lang), nearest=nearest)


def run_tool(index: CatalogIndex, call: ToolCall, state: DialogueState, *, image: Image.Image | None, text: str,
             lang: str, generate: Callable[..., str] | None, k: int = 5, copy_prompt: str = "prompt") -> ToolOutcome:
    """Run `call`; a ToolError becomes a polite message (the chat never shows a traceback).

    `generate` writes text for write_copy with the copy.yaml template `copy_prompt` (an adapter's own template).
    """
    ctx = ToolContext(index=index, generate=generate, k=k, lang=lang, image=image, copy_prompt=copy_prompt,
                      recent=call.recent, interactions=lambda: [Interaction(p, e) for p, e in state.interactions])
    try:
        return _run(ctx, call, state, text)
    except ToolError as e:
        msg = render("messages", "tool_error", lang=lang, error=str(e))
        return ToolOutcome(trace=f"{call.name} failed: {e}", lead=msg, error=str(e))


def _need_product(lang: str) -> ToolOutcome:
    return ToolOutcome(trace="no product to act on", lead=render("messages", "need_product", lang=lang))


def _named_product(index: CatalogIndex, text: str) -> str | None:
    """The product a message names when nothing was shown yet ("写一段黄色帐篷的文案"): the clear top search hit."""
    hits = search_products(index, SearchRequest(text=text, k=1)).cards
    return hits[0].id if hits else None


def _kinds_sold(index: CatalogIndex, lang: str) -> str:
    """What the shop sells, as the catalog writes it: its categories, else its most common kinds."""
    vocab = index.vocabulary
    names = sorted(vocab.categories) if vocab.categories else list(vocab.kinds)
    names = names[:MAX_OVERVIEW_KINDS]
    return ("、" if lang == "zh" else ", ").join(names)


def _label(name: str, lang: str) -> str:
    return field_label(name, lang) if name in CORE_FIELDS else name


def _answer_line(ans: AnswerResult, lang: str) -> str:
    if not ans.found:
        return render("messages", "answer_missing", lang=lang, title=ans.card.title)
    if ans.verdict is not None and ans.note:  # a yes/no question: the verdict and the value it rests on
        note = re.sub(r"^(yes|no|是|否)[\s,，:：]*", "", ans.note, flags=re.I).strip() or ans.note
        return render("messages", "answer_verdict", lang=lang, title=ans.card.title, ok=ans.verdict, note=note)
    sep = "，" if lang == "zh" else ", "
    colon = "：" if lang == "zh" else ": "
    facts = sep.join((f.value if f.source in ("description", "title", "tags") else f"{_label(f.field, lang)}{colon}"
                      f"{f.value}").strip().rstrip("；;，,。.") for f in ans.facts[:3])
    line = render("messages", "answer_found", lang=lang, title=ans.card.title, facts=facts)
    return line + (("" if lang == "zh" else " ") + ans.note if ans.note else "")


def _superlative(cards: list[ProductCard], which: str, lang: str) -> str:
    """"The cheapest of those is X, at $Y." over the products on screen."""
    priced = [c for c in cards if c.price is not None]
    if not priced:
        return render("messages", "no_prices", lang=lang)
    pick = (min if which == "cheapest" else max)(priced, key=lambda c: c.price or 0.0)
    return render("messages", which, lang=lang, title=pick.title, price=price_text(pick.price, pick.currency, lang))


def _said(words: str) -> str:
    """The shopper's words as a reply may quote them: short (a long message is never repeated back)."""
    words = " ".join(words.split())
    return words if len(words) <= MAX_SAID else words[:MAX_SAID].rstrip() + "…"


def _conditions(filters: Filters, price_said: str, lang: str) -> str:
    """The constraints in words; the price as the shopper said it ("around $50"), not the band read from it."""
    if not price_said or (filters.price_min is None and filters.price_max is None):
        return filters.describe(lang)
    rest = filters.model_copy(update={"price_min": None, "price_max": None}).describe(lang)
    return ("，" if lang == "zh" else ", ").join(x for x in (price_said.strip(), rest) if x)


# the constraints a nearest result gave up (`CatalogSearch.unmet`, `SearchResult.dropped`), as a reply says them
_UNMET = {
    "zh": {"price": "价格", "size": "尺码", "colour": "颜色", "category": "类目", "brand": "品牌",
           "stock": "有货（目前缺货）", "waterproof": "防水"},
    "en": {"price": "price", "size": "size", "colour": "colour", "category": "category", "brand": "brand",
           "stock": "in stock (sold out at the moment)", "waterproof": "waterproof"},
}


def _unmet(names: Sequence[str], lang: str) -> str:
    """"价格、有货（目前缺货）": the names given up in the shopper's language; a spec ("60L") as written."""
    return ("、" if lang == "zh" else ", ").join(_UNMET[lang].get(n, n) for n in names)


def _title_says(title: str, phrase: str, *, strict: bool = True) -> bool:
    """Whether `title` writes `phrase`: whole, or each of its Chinese words of two or more characters, in any order,
    as run-together shop titles do ("降噪耳机" in "无线电竞头戴式降噪7.1声道耳机"). A Chinese kind must be the head
    of its word there, and the title not mostly a part, cover or holder of it (`title_heads.is_head_kind`: not
    "吹风机" in "...支架电风吹风机架", nor "空调" in "...空调冷库双向热力膨胀阀"). `strict=False`: written there
    otherwise, but not mostly as what a part serves (`title_heads.of_kind`: "降噪耳机蓝牙苹果安卓")."""
    low, want = title.lower(), phrase.lower().strip()
    check = is_head_kind if strict else of_kind
    if want in low:
        return check(low, want) if re.search(r"[\u3400-\u9fff]", want) else True
    if not re.search(r"[\u3400-\u9fff]", want):
        return False
    import jieba

    words = [w for w in jieba.lcut(want) if len(w) >= 2]
    return len(words) >= 2 and all(w in low for w in words) and check(low, words[-1])


def _said_in(title: str, phrase: str) -> bool:
    """Whether `title` writes `phrase` at all (whole), as a head or as what a part serves."""
    return bool(phrase.strip()) and phrase.lower().strip() in title.lower()


def _search_outcome(ctx: ToolContext, call: ToolCall, found: CatalogSearch) -> ToolOutcome:
    lang, a = ctx.lang, call.args
    result: SearchResult = found.result
    cond = _conditions(result.filters, call.price_said, lang)
    missing = a.get("missing", "")
    if missing:
        said = [c for c in found.cards if _title_says(c.title, missing)]
        if not said:
            # titles that write it but not as the head of a word: maybe of the kind ("降噪耳机蓝牙"), maybe a part
            # of one ("空调冷库双向热力膨胀阀"); or surely only a part, cover or holder of it ("…电风吹风机架").
            # Shown as the nearest, or as only related when every one is a part; else not sold
            loose = [c for c in found.cards if _title_says(c.title, missing, strict=False)]
            written = [c for c in found.cards if c in loose or _said_in(c.title, missing)]
            if written or (a.get("nearest_ok") and found.cards):
                key = "no_exact" if loose or not written else "only_related"
                lead = render("messages", key, lang=lang, what=_said(missing), unmet="", n=len(written))
                why = f"; titles write {missing!r} only not as a head" if written else f"; no title says {missing!r}"
                return _list_outcome(written or found.cards, result.trace + why + ": the nearest", lead,
                                     lang, nearest=True, cond=cond)
            lead = render("messages", "not_sold", lang=lang, what=_said(missing), kinds=_kinds_sold(ctx.index, lang))
            return ToolOutcome(trace=result.trace + f"; the catalog has no {missing!r}", lead=lead)
        if len(said) < len(found.cards):  # only the products that are the kind asked for, not the ones near it
            result = replace(result, cards=said)
            found = replace(found, result=result)
    if not found.cards:
        what = " ".join(x for x in (a.get("query", ""), f"({cond})" if cond else "") if x)
        return ToolOutcome(trace=result.trace, lead=render("messages", "nothing", lang=lang, what=_said(what)))
    if found.unverified and not found.nearest:  # by meaning only: no title word confirms it
        lead = render("messages", "unverified", lang=lang, what=_said(a.get("query", "")), cond=cond)
        return _list_outcome(found.cards, result.trace + "; no title word confirms the query: nearest by meaning",
                             lead, lang, nearest=True, cond=cond)
    if found.nearest:
        unmet = _unmet(found.unmet, lang)
        what = " ".join(x for x in (a.get("query", "") or " ".join(a.get("kinds") or []),
                                     f"({cond})" if cond else "") if x)
        lead = render("messages", "no_exact", lang=lang, what=_said(what), unmet=unmet)
        return _list_outcome(found.cards, result.trace, lead, lang, nearest=True, cond=cond)
    top = found.cards[0]
    lead = render("messages", "found", lang=lang, n=len(found.cards), cond=cond, top=top.title,
                  price=price_text(top.price, top.currency, lang))
    return _list_outcome(found.cards, result.trace, lead, lang, cond=cond)


def _run(ctx: ToolContext, call: ToolCall, state: DialogueState, text: str) -> ToolOutcome:
    index, lang, a = ctx.index, ctx.lang, call.args
    needs_one = ("similar_products", "answer_about_product", "write_copy")
    if call.name in needs_one and not a.get("product_id") and not a.get("product_ids") and ctx.image is None:
        named = _named_product(index, text)
        if named:
            a["product_id"] = named
            call.notes.append(f"product named in the message: {named}")
    if call.name == "product_details" and not a.get("product_ids"):
        named = _named_product(index, text)
        if named:
            a["product_ids"] = [named]
    if call.name is None:
        if call.reply == "overview":
            return ToolOutcome(trace="no tool: what the shop sells",
                               lead=render("messages", "overview", lang=lang, categories=_kinds_sold(index, lang)))
        if call.reply == "unknown_ids":
            ids = ("、" if lang == "zh" else ", ").join(a.get("ids", []))
            return ToolOutcome(trace=f"no tool: ids not in the catalog ({ids})",
                               lead=render("messages", "unknown_ids", lang=lang, ids=ids,
                                           n=len(a.get("ids", []))))
        return ToolOutcome(trace="no tool: small talk", lead=render("messages", call.reply, lang=lang))
    if call.name in needs_one + ("product_details",) and not (a.get("product_id") or a.get("product_ids")):
        return _need_product(lang)
    if call.name == "compare_products" and len(a.get("product_ids", [])) < 2:
        return _need_product(lang)
    if call.name == "write_copy" and ctx.generate is None:
        return ToolOutcome(trace="write_copy: no language model is attached",
                           lead=render("messages", "copy_needs_model", lang=lang))
    args = {k: v for k, v in a.items() if k not in ("missing", "which", "nearest_ok")}
    result = call_tool(ctx, call.name, args)
    if call.name == "search_catalog":
        return _search_outcome(ctx, call, result)
    if call.name == "similar_products":
        anchor = next(iter(index.store.get_products([a["product_id"]])), None)
        title = anchor.title if anchor else a["product_id"]
        return _list_outcome(result.cards, result.trace, render("messages", "similar", lang=lang, title=title), lang,
                             nearest=result.relaxed, cond=result.filters.describe(lang))
    if call.name == "recommend_for_user":
        personal = any(e in ("liked", "viewed", "carted", "bought", "clicked") for _, e in state.interactions)
        return _list_outcome(result.cards, result.trace, render("messages", "recommend", lang=lang,
                                                                 personal=personal), lang)
    if isinstance(result, DetailsResult):
        sep = "；" if lang == "zh" else "; "
        parts = [render("messages", "details", lang=lang, title=c.title,
                        facts=sep.join(f"{label}{'：' if lang == 'zh' else ': '}{value}"
                                       for label, value in result.facts.get(c.id, [])[:12]
                                       if label not in _LONG_FIELDS[lang]))
                 for c in result.cards]
        return ToolOutcome(cards=result.cards, trace=result.trace, lead="\n".join(parts))
    if isinstance(result, ComparisonResult):
        sep = "；" if lang == "zh" else "; "
        rows = sep.join(f"{label}: {' / '.join(values)}" for label, values in result.rows)
        cheapest = next((c.title for c in result.cards if c.id == result.cheapest), "")
        return ToolOutcome(cards=result.cards, trace=result.trace,
                           lead=render("messages", "compare", lang=lang, rows=rows, cheapest=cheapest),
                           advise="turn", situation=render("messages", "situation_compare", lang=lang),
                           facts_block=facts_block(result.cards, lang), compare=True)
    if call.name == "answer_about_product":
        answers = result if isinstance(result, list) else [result]
        cards = [x.card for x in answers]
        if a.get("which"):
            lead = _superlative(cards, a["which"], lang)
        else:
            lead = "\n".join(_answer_line(x, lang) for x in answers)
        return ToolOutcome(cards=cards, trace="; ".join(x.trace for x in answers), lead=lead)
    if isinstance(result, CopyResult):
        points = "\n".join(f"- {p}" for p in result.selling_points)
        body = "\n".join(x for x in (result.title, points, result.description) if x)
        return ToolOutcome(cards=[result.card], trace=result.trace,
                           lead=render("messages", "copy_done", lang=lang, title=result.card.title), body=body)
    raise ToolError(f"tool {call.name!r} returned {type(result).__name__}, which the agent cannot show")
