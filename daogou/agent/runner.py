"""Run a checked tool call against the catalog and shape what the shopper sees: cards, a lead, facts for the model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from PIL import Image

from daogou.agent.policy import ToolCall
from daogou.agent.state import DialogueState
from daogou.ingest.filters import Filters
from daogou.ingest.vocab import strip_colors
from daogou.prompts import render
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.copywriter import write_copy
from daogou.tools.details import AnswerResult, answer_about_product, compare_products, product_details
from daogou.tools.errors import ToolError
from daogou.tools.facts import CORE_FIELDS, field_label
from daogou.tools.query import CATEGORY_ALIASES, title_terms
from daogou.tools.recommend import Interaction, recommend_for_user, similar_products
from daogou.tools.search import ProductCard, SearchRequest, SearchResult, search_products

__all__ = ["RESULT_MARGIN", "ToolOutcome", "call_filters", "run_tool"]

RESULT_MARGIN = 0.08  # chat shows only results within this of the best hybrid score (see SearchRequest.margin)


@dataclass
class ToolOutcome:
    """What a tool call produced, ready for the faces and for the model's facts block."""

    cards: list[ProductCard] = field(default_factory=list)
    trace: str = ""
    lead: str = ""  # the fixed sentence the agent writes itself
    body: str = ""  # fixed text after the lead (details, comparison, copy)
    advise: str = ""  # "" (no model words), "turn" (advice on these facts) or "chat" (small talk)
    situation: str = ""
    facts_block: str = ""
    error: str = ""


def call_filters(args: dict) -> Filters:
    """Filters from a tool call's arguments (the keys `filters_to_args` writes)."""
    def many(key: str) -> tuple[str, ...]:
        v = args.get(key)
        return () if v in (None, "", []) else tuple(v) if isinstance(v, list | tuple) else (str(v),)

    return Filters(price_min=args.get("price_min"), price_max=args.get("price_max"), colors=many("color"),
                   categories=many("category"), brands=many("brand"), sizes=many("size"),
                   exclude_brands=many("exclude_brands"), in_stock=bool(args.get("in_stock")),
                   waterproof=bool(args.get("waterproof")))


def _facts_block(cards: list[ProductCard], lang: str) -> str:
    lines = []
    for n, c in enumerate(cards[:5], 1):
        price = f"{c.price:g}{'元' if lang == 'zh' else ' CNY'}" if c.price is not None else "?"
        attrs = ", ".join(f"{k}: {v}" for k, v in list(c.attributes.items())[:4])
        stock = (" (缺货)" if lang == "zh" else " (out of stock)") if c.stock == 0 else ""
        lines.append(f"{n}. {c.title} | {price} | {c.brand} | {attrs}{stock}")
    return "\n".join(lines)


def _list_outcome(result: SearchResult, lead: str, lang: str) -> ToolOutcome:
    cond = result.filters.describe()
    if result.relaxed:
        situation = ("没有完全符合条件的商品，下面是放宽条件后最接近的，请如实告诉顾客。" if lang == "zh"
                     else "Nothing met every condition; these are the nearest after relaxing some. Say so honestly.")
    else:
        situation = f"共 {len(result.cards)} 件。" if lang == "zh" else f"{len(result.cards)} products."
    return ToolOutcome(cards=result.cards, trace=result.trace, lead=lead, advise="turn" if result.cards else "",
                       situation=situation + (f" 条件：{cond}" if cond and lang == "zh" else
                                              f" Conditions: {cond}" if cond else ""),
                       facts_block=_facts_block(result.cards, lang))


def run_tool(index: CatalogIndex, call: ToolCall, state: DialogueState, *, image: Image.Image | None, text: str,
             lang: str, generate: Callable[..., str], k: int = 5, copy_prompt: str = "prompt") -> ToolOutcome:
    """Run `call`; a ToolError becomes a polite message (the chat never shows a traceback).

    `generate` writes text for write_copy with the copy.yaml template `copy_prompt` (an adapter's own template).
    """
    try:
        return _run(index, call, state, image=image, text=text, lang=lang, generate=generate, k=k,
                    copy_prompt=copy_prompt)
    except ToolError as e:
        msg = render("messages", "tool_error", lang=lang, error=str(e))
        return ToolOutcome(trace=f"{call.name} failed: {e}", lead=msg, error=str(e))


def _label(name: str, lang: str) -> str:
    return field_label(name, lang) if name in CORE_FIELDS else name


def _need_product(lang: str) -> ToolOutcome:
    return ToolOutcome(trace="no product to act on", lead=render("messages", "need_product", lang=lang))


def _named_product(index: CatalogIndex, text: str) -> str | None:
    """The product a message names when nothing was shown yet ("写一段黄色帐篷的文案"): the clear top search hit."""
    hits = search_products(index, SearchRequest(text=text, k=1)).cards
    return hits[0].id if hits else None


def _names_match(index: CatalogIndex, query: str, cards: list[ProductCard]) -> bool:
    """False when the query names a kind of product (title terms) and no card's title has any of those terms."""
    wanted = index.vocabulary.product_terms(strip_colors(query))
    if not wanted:
        return True
    return any(wanted & title_terms([c.title]) for c in cards)


def _kind_without_filters(index: CatalogIndex, req: SearchRequest, query: str, keep: tuple[str, ...] = ()
                          ) -> SearchResult | None:
    """The products of the kind the query names, with the hard filters dropped one by one (price first, unless
    the shopper has just set the price: then the older constraints go first)."""
    f = req.filters
    steps = [("price", {"price_min": None, "price_max": None}),
             ("other", {"colors": (), "sizes": (), "waterproof": False, "in_stock": False}), ("brand", {"brands": ()})]
    steps.sort(key=lambda step: step[0] in keep)
    for _, change in steps:
        f = f.model_copy(update=change)
        found = search_products(index, replace(req, filters=f))
        named = [c for c in found.cards if _names_match(index, query, [c])]
        if named:
            named.sort(key=lambda c: (c.price is None, c.price or 0.0))
            return replace(found, cards=named)
    return None


def _of_kind(index: CatalogIndex, query: str, cards: list[ProductCard]) -> list[ProductCard]:
    """Only the products of the kind the query names (its head term, e.g. 卫衣 in "200以内的卫衣"), when any are."""
    head = index.vocabulary.head_term(strip_colors(query))
    if not head:
        return cards
    for term in dict.fromkeys((head, head.split()[-1])):  # "wireless headphone", then "headphone"
        kind = [c for c in cards if term in title_terms([c.title])]
        if kind:
            return kind
    return cards


def _mentioning(cards: list[ProductCard], keywords: list[str]) -> list[ProductCard]:
    """The cards whose title or attribute values mention one of `keywords` ("三文鱼"), when any do."""
    if not keywords:
        return cards
    hits = [c for c in cards if any(w.lower() in " ".join((c.title, *c.attributes.values())).lower()
                                    for w in keywords)]
    return hits or cards


def _coherent(cards: list[ProductCard], filters: Filters) -> list[ProductCard]:
    """When the top three results share a category and none was asked for, the off-category tail is dropped."""
    if filters.categories or len(cards) < 4:
        return cards
    top = {c.category for c in cards[:3]}
    if len(top) != 1:
        return cards
    return [c for c in cards if c.category in top]


def _answer_line(ans: AnswerResult, lang: str) -> str:
    if not ans.found:
        return render("messages", "answer_missing", lang=lang, title=ans.card.title)
    sep = "，" if lang == "zh" else ", "
    facts = sep.join(f"{_label(f.field, lang)}{'：' if lang == 'zh' else ': '}{f.value}" for f in ans.facts[:4])
    line = render("messages", "answer_found", lang=lang, title=ans.card.title, facts=facts)
    return line + (("" if lang == "zh" else " ") + ans.note if ans.note else "")


def _categories(index: CatalogIndex, lang: str) -> str:
    """The catalog's categories, in English words where the alias table knows them."""
    cats = sorted(index.vocabulary.categories)
    if lang == "zh":
        return "、".join(cats)
    english = {zh: next((w for w in words if w.isascii()), zh) for zh, words in CATEGORY_ALIASES.items()}
    return ", ".join(english.get(c, c) for c in cats)


def _run(index: CatalogIndex, call: ToolCall, state: DialogueState, *, image: Image.Image | None, text: str,
         lang: str, generate: Callable[..., str], k: int, copy_prompt: str = "prompt") -> ToolOutcome:
    a = call.args
    needs_one = ("similar_products", "answer_about_product", "write_copy")
    if call.name in needs_one and not a.get("product_id") and not a.get("product_ids") and image is None:
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
            return ToolOutcome(trace="no tool: the catalog's categories",
                               lead=render("messages", "overview", lang=lang, categories=_categories(index, lang)))
        return ToolOutcome(trace="no tool: small talk", lead=render("messages", call.reply, lang=lang), advise="")
    if call.name == "search_catalog":
        req = SearchRequest(text=a.get("query", ""), image=image if a.get("image") else None,
                            filters=call_filters(a), k=3 * k, margin=RESULT_MARGIN)
        result = search_products(index, req)
        if not a.get("image"):
            cards = _coherent(_of_kind(index, a.get("query", ""), result.cards), result.filters)
            cards = _mentioning(cards, a.get("keywords") or [])
            if a.get("sort") == "price":
                cards = sorted(cards, key=lambda c: (c.price is None, c.price or 0.0))
            result = replace(result, cards=cards)
        result = replace(result, cards=result.cards[:k])
        cond = result.filters.describe()
        if result.cards and not result.relaxed and not _names_match(index, a.get("query", ""), result.cards):
            # Nothing of the kind asked for meets the filters: show that kind without them, labelled as nearest.
            what = " ".join(x for x in (a.get("query", ""), f"({cond})" if cond else "") if x)
            nearest = _kind_without_filters(index, req, a.get("query", ""), keep=call.recent)
            result = replace(nearest or result, relaxed=True, filters=result.filters)
            return _list_outcome(result, render("messages", "no_exact", lang=lang, what=what), lang)
        if result.relaxed:
            lead = render("messages", "relaxed", lang=lang, cond=cond, dropped="、".join(result.dropped)
                          if lang == "zh" else ", ".join(result.dropped))
        else:
            top = result.cards[0] if result.cards else None
            lead = render("messages", "found", lang=lang, n=len(result.cards), cond=cond,
                          top=top.title if top else "", price=f"{top.price:g}" if top and top.price is not None else "")
        return _list_outcome(result, lead, lang)
    if call.name == "similar_products":
        if not a.get("product_id"):
            return _need_product(lang)
        anchor = next(iter(index.store.get_products([a["product_id"]])), None)
        if anchor is None:
            raise ToolError(f"Unknown product id {a['product_id']!r}; use an id shown in this conversation.")
        filters = call_filters(a)
        result = None
        if not filters.categories and anchor.category:
            # "more like this" means more of the same kind: the anchor's category, unless that leaves too few
            same = similar_products(index, anchor.id, k=k,
                                    filters=filters.model_copy(update={"categories": (anchor.category,)}))
            result = same if len(same.cards) >= 2 else None
        if result is None:  # only when the category gives fewer than two: one search per turn, not two
            result = similar_products(index, anchor.id, k=k, filters=filters)
        title = anchor.title
        return _list_outcome(result, render("messages", "similar", lang=lang, title=title), lang)
    if call.name == "recommend_for_user":
        history = [Interaction(pid, event) for pid, event in state.interactions]
        result = recommend_for_user(index, history, k=a.get("k", k), filters=call_filters(a),
                                    exclude_seen=bool(a.get("exclude_seen")))
        personal = any(e in ("liked", "viewed", "carted", "bought", "clicked") for _, e in state.interactions)
        return _list_outcome(result, render("messages", "recommend", lang=lang, personal=personal), lang)
    if call.name == "product_details":
        if not a.get("product_ids"):
            return _need_product(lang)
        det = product_details(index, a["product_ids"], lang=lang)
        parts = []
        for c in det.cards:
            facts = "；".join(f"{label}：{value}" for label, value in det.facts.get(c.id, [])[:10]) if lang == "zh" \
                else "; ".join(f"{label}: {value}" for label, value in det.facts.get(c.id, [])[:10])
            parts.append(render("messages", "details", lang=lang, title=c.title, facts=facts))
        return ToolOutcome(cards=det.cards, trace=det.trace, lead="\n".join(parts))
    if call.name == "compare_products":
        if len(a.get("product_ids", [])) < 2:
            return _need_product(lang)
        cmp = compare_products(index, a["product_ids"], lang=lang)
        sep = "；" if lang == "zh" else "; "
        rows = sep.join(f"{label}: {' / '.join(values)}" for label, values in cmp.rows)
        cheapest = next((c.title for c in cmp.cards if c.id == cmp.cheapest), "")
        return ToolOutcome(cards=cmp.cards, trace=cmp.trace,
                           lead=render("messages", "compare", lang=lang, rows=rows, cheapest=cheapest))
    if call.name == "answer_about_product":
        ids = a.get("product_ids") or ([a["product_id"]] if a.get("product_id") else [])
        if not ids:
            return _need_product(lang)
        answers = [answer_about_product(index, pid, a.get("question") or text, lang=lang) for pid in ids]
        return ToolOutcome(cards=[x.card for x in answers], trace="; ".join(x.trace for x in answers),
                           lead="\n".join(_answer_line(x, lang) for x in answers))
    if call.name == "write_copy":
        if not a.get("product_id"):
            return _need_product(lang)
        copy = write_copy(index, a["product_id"], style=a.get("style") or ("简洁" if lang == "zh" else "concise"),
                          language=a.get("language", lang), generate=generate, prompt_key=copy_prompt)
        points = "\n".join(f"- {p}" for p in copy.selling_points)
        body = "\n".join(x for x in (copy.title, points, copy.description) if x)
        return ToolOutcome(cards=[copy.card], trace=copy.trace,
                           lead=render("messages", "copy_done", lang=lang, title=copy.card.title), body=body)
    raise ToolError(f"Unknown tool {call.name!r}; should be one of search_catalog, similar_products, "
                    "recommend_for_user, product_details, compare_products, answer_about_product, write_copy")
