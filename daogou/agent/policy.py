"""Which tool a turn calls, with which arguments: the rules' reading decides, an LLM proposal is checked against it.

Every argument must be supported by what the shopper said (or by constraints carried from earlier turns):
a proposed argument the reading does not support is dropped, one the reading has and the proposal missed is
added, and each such repair is written into the trace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from daogou.agent.reading import Reading
from daogou.agent.state import DialogueState
from daogou.ingest.filters import Filters

__all__ = ["ToolCall", "choose_tool", "copy_style", "filters_to_args"]

_INTENT_TOOL = {
    "search": "search_catalog", "refine": "search_catalog", "similar": "similar_products",
    "recommend": "recommend_for_user", "details": "product_details", "compare": "compare_products",
    "answer": "answer_about_product", "copy": "write_copy", "greet": None, "overview": None,
}
_TOOL_INTENT = {"search_catalog": "search", "similar_products": "similar", "recommend_for_user": "recommend",
                "product_details": "details", "compare_products": "compare", "answer_about_product": "answer",
                "write_copy": "copy"}
_NEEDS_PRODUCT = ("similar_products", "product_details", "compare_products", "answer_about_product", "write_copy")
_ELSE = re.compile(r"(再|别的|其他|其它|还有|更多|\belse\b|\bother\b|\bmore\b|\banother\b)", re.I)


@dataclass
class ToolCall:
    """A tool to run (None: answer without one) and its checked arguments."""

    name: str | None
    args: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    recent: tuple[str, ...] = ()  # constraints this very turn set ("price"): the last to give up when relaxing
    # without a tool: "greeting", "farewell" (small talk), "overview" (what the shop sells) or "unknown_ids" (the
    # shopper typed ids this catalog does not have: said plainly, never replaced by the products on screen)
    reply: str = "greeting"
    price_said: str = ""  # the price as the shopper said it ("around $50"), for the reply's words


def filters_to_args(query: str, f: Filters) -> dict[str, Any]:
    """search_catalog arguments from retrieval words and filters (only the constraints that are set)."""
    args: dict[str, Any] = {"query": query}
    if f.price_min is not None:
        args["price_min"] = f.price_min
    if f.price_max is not None:
        args["price_max"] = f.price_max
    for key, values in (("color", f.colors), ("category", f.categories), ("brand", f.brands), ("size", f.sizes)):
        if values:
            args[key] = values[0] if len(values) == 1 else list(values)
    if f.exclude_brands:
        args["exclude_brands"] = list(f.exclude_brands)
    if f.exclude_ids:
        args["exclude_ids"] = list(f.exclude_ids)
    if f.in_stock:
        args["in_stock"] = True
    if f.waterproof:
        args["waterproof"] = True
    return args


def _target(reading: Reading, state: DialogueState) -> str | None:
    if reading.refs:
        return reading.refs[0]
    return state.focus or (state.shown[0] if state.shown else None)


def _rule_call(reading: Reading, state: DialogueState, has_image: bool, k: int) -> ToolCall:
    intent = reading.intent
    if reading.unknown_ids and not has_image:
        return ToolCall(None, {"ids": list(reading.unknown_ids)}, reply="unknown_ids",
                        notes=[f"ids not in the catalog: {', '.join(reading.unknown_ids)}"])
    if has_image and intent in ("search", "refine", "similar", "greet"):
        args = filters_to_args(reading.parsed.text if intent == "search" else "", reading.parsed.filters)
        args["image"] = "uploaded"
        if not args["query"] or intent == "similar" or intent == "greet":
            args.pop("query")
        return ToolCall("search_catalog", args)
    name = _INTENT_TOOL[intent]
    if name is None:
        reply = "overview" if intent == "overview" else "farewell" if reading.farewell else "greeting"
        return ToolCall(None, reply=reply)
    if name == "search_catalog":
        args = filters_to_args(reading.query, reading.filters)
        if reading.keywords:
            args["keywords"] = list(reading.keywords)
        if reading.cheapest:
            args["sort"] = "price"
        if reading.kinds:
            args["kinds"] = list(reading.kinds)
            if reading.ideas:
                args["widen"] = True  # a need's kinds are ideas ("gift for her" -> lipstick, scarf), not asked for
        if reading.specs:
            args["specs"] = [s.raw for s in reading.specs]
        if reading.missing:
            args["missing"] = reading.missing
            if reading.nearest_ok:
                args["nearest_ok"] = True
        price_now = reading.parsed.filters.price_min is not None or reading.parsed.filters.price_max is not None \
            or any(n.startswith(("cheaper than", "pricier than")) for n in reading.notes)
        said = " ".join(reading.parsed.mentions.get("price", [])) if price_now else ""
        return ToolCall(name, args, recent=("price",) if price_now else (), price_said=said)
    if name == "recommend_for_user":
        # only what this turn asks for: constraints of an earlier search are not the shopper's taste
        args: dict[str, Any] = {"k": k}
        stated = reading.parsed.filters
        if not stated.is_empty():
            args.update({k2: v for k2, v in filters_to_args("", stated).items() if k2 != "query"})
        if _ELSE.search(reading.parsed.text):
            args["exclude_seen"] = True  # "再推荐几件", "what else": not what they have already seen
        return ToolCall(name, args)
    if name == "similar_products":
        target = reading.refs[0] if reading.refs else state.anchor or _target(reading, state)
        args = {"product_id": target} if target else {}
        args.update({k2: v for k2, v in filters_to_args("", reading.filters).items() if k2 != "query"})
        return ToolCall(name, args)
    if name == "compare_products":
        ids = reading.refs if len(reading.refs) >= 2 else (state.shown[:2] if len(state.shown) >= 2 else reading.refs)
        return ToolCall(name, {"product_ids": list(ids)})
    if name == "product_details":
        return ToolCall(name, {"product_ids": reading.refs[:3]})
    target = _target(reading, state)
    args = {"product_id": target} if target else {}
    if name == "answer_about_product":
        args["question"] = reading.question or reading.parsed.text
        if len(reading.refs) > 1:
            args = {"product_ids": list(reading.refs), "question": args["question"]}
        if reading.which:
            args["which"] = reading.which
    if name == "write_copy":
        low = reading.parsed.text.lower()
        lang = "zh" if re.search(r"中文|chinese", low) else "en" if re.search(r"英文|english", low) else reading.lang
        args.update(style=copy_style(reading.parsed.text, lang), language=lang)
    return ToolCall(name, args)


_STYLES = {"zh": ("简洁", "活泼", "高端", "促销"), "en": ("concise", "playful", "premium", "promotional")}
_STYLE_WORDS = {"可爱": "活泼", "有趣": "活泼", "轻松": "活泼", "奢华": "高端", "高级": "高端", "正式": "高端",
                "打折": "促销", "优惠": "促销", "简短": "简洁", "short": "concise", "fun": "playful", "casual": "playful",
                "punchy": "playful", "luxury": "premium", "formal": "premium", "elegant": "premium",
                "sale": "promotional", "discount": "promotional"}
_EN_OF = dict(zip(("简洁", "活泼", "高端", "促销"), ("concise", "playful", "premium", "promotional"), strict=True))


def copy_style(text: str, lang: str) -> str:
    """The copy style the shopper asked for, or the language's default."""
    low = text.lower()
    found = next((s for s in _STYLES["zh"] + _STYLES["en"] if s in low), None)
    found = found or next((s for w, s in _STYLE_WORDS.items() if w in low), None) or _STYLES[lang][0]
    if lang == "en":
        return _EN_OF.get(found, found)
    return {v: k for k, v in _EN_OF.items()}.get(found, found)


def choose_tool(reading: Reading, state: DialogueState, has_image: bool, *, k: int = 5) -> ToolCall:
    """The checked tool call for this turn (see the module docstring)."""
    return _rule_call(reading, state, has_image, k)


def _same(a: Any, b: Any) -> bool:
    try:
        return abs(float(a) - float(b)) < 0.01
    except (TypeError, ValueError):
        norm = (lambda v: sorted(map(str, v)) if isinstance(v, list | tuple) else [str(v)])  # noqa: E731
        return norm(a) == norm(b)
