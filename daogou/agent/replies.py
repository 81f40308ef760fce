"""The words of a reply: the fixed sentence that states what was found, then the model's sentence on why.

The fixed sentence is built from the tool result alone (how many products, under which conditions, the top one
and its price; that nothing matched exactly; the answer the record gives; the comparison table) and always comes
first, so the facts a shopper needs never depend on the model. For products shown, the local model then writes one
sentence on why the first one suits the shopper (or the trade-off between the products compared), streamed through
the grounding gate: a sentence that invents a price, id, colour or value, gives one product another's value, leaks
the prompt, echoes the shopper, switches language or is cut off mid-phrase is dropped (`removed`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from daogou.agent.grounding import Facts, SentenceGate
from daogou.agent.runner import ToolOutcome
from daogou.agent.state import DialogueState
from daogou.prompts import render

__all__ = ["MAX_USER_CHARS", "reply_words"]

_CJK = re.compile(r"[\u4e00-\u9fff]")

MAX_USER_CHARS = 200  # of the shopper's message the reply prompt quotes (a long paste is never echoed back)
MAX_PRODUCTS = 3  # products the model reads about


def _task(outcome: ToolOutcome) -> str:
    return "task_nearest" if outcome.nearest else "task_compare" if outcome.compare else "task_found"


def _short(title: str, lang: str) -> str:
    """The half of a bilingual title in the shopper's language ("红色碎花连衣裙 / Red floral dress", en: the second)."""
    halves = [h.strip() for h in title.split(" / ") if h.strip()]
    if len(halves) == 2:
        return halves[0] if (lang == "zh") == bool(_CJK.search(halves[0])) else halves[1]
    return title


def _messages(outcome: ToolOutcome, text: str, lang: str, shop: str) -> list[dict[str, str]]:
    facts = "\n".join(outcome.facts_block.splitlines()[:MAX_PRODUCTS])
    return [{"role": "system", "content": render("reply", "system", lang=lang, shop=shop)},
            {"role": "user", "content": render("reply", "turn", lang=lang, user=text[:MAX_USER_CHARS], facts=facts,
                                               task=render("reply", _task(outcome), lang=lang,
                                                           title=_short(outcome.cards[0].title, lang)))}]


def reply_words(writer: Any, outcome: ToolOutcome, *, text: str, lang: str, state: DialogueState, shop: str,
                max_tokens: int, removed: list[str]) -> Iterator[str]:
    """Pieces of the reply, in order, as they may be shown; what the gate removed goes to `removed`."""
    if outcome.lead:
        yield outcome.lead
    if outcome.body:
        yield ("\n" if outcome.lead else "") + outcome.body
    if writer is None or outcome.advise != "turn" or not outcome.cards:
        return
    about = outcome.cards if outcome.compare else outcome.cards[:1]  # the products the model may speak of
    facts = Facts.build([p.model_dump() for p in state.catalog_seen.values()],
                        this_turn=[c.to_dict() for c in outcome.cards[:MAX_PRODUCTS]], user_texts=[text])
    facts.lang = lang
    facts.allowed = {c.id for c in about}
    messages = _messages(outcome, text, lang, shop)
    facts.prompt_texts = [m["content"] for m in messages]
    gate = SentenceGate(facts)
    sep = " " if lang == "en" else ""
    first = True
    stream = writer.stream(messages, max_new_tokens=max_tokens)
    try:
        for token in stream:
            released = gate.feed(token)
            if released:
                yield (sep if first else "") + (released.lstrip() if first else released)
                first = False
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # a shopper who leaves mid-reply frees the model
    stats = getattr(writer, "last_stats", None)
    tail = gate.close(complete=not (stats is not None and getattr(stats, "decode_tokens", 0) >= max_tokens))
    if tail:
        yield (sep if first else "") + (tail.lstrip() if first else tail)
    removed += gate.removed
