"""The words of a reply: the model's sentences about the products shown, each checked before it is released.

For a list of products that meets the shopper's request, the model writes the reply (1-3 sentences: which
one fits and why, the trade-off between two) and the fixed sentence built from the tool result is the
fallback when no sentence of the model passes the grounding gate. Where the fixed sentence carries the
answer itself (nothing matched exactly, a comparison table, an answer from the record, details, copy, a
product the shop does not sell), it always comes first, and the model may add one sentence after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from daogou.agent.grounding import Facts, SentenceGate
from daogou.agent.runner import ToolOutcome
from daogou.agent.state import DialogueState
from daogou.prompts import render

__all__ = ["MAX_USER_CHARS", "reply_words"]

MAX_USER_CHARS = 200  # of the shopper's message the reply prompt quotes (a long paste is never echoed back)


def _messages(outcome: ToolOutcome, text: str, lang: str, shop: str) -> list[dict[str, str]]:
    task = "task_nearest" if outcome.nearest else "task_compare" if outcome.compare else "task_found"
    return [{"role": "system", "content": render("reply", "system", lang=lang, shop=shop)},
            {"role": "user", "content": render("reply", "turn", lang=lang, user=text[:MAX_USER_CHARS],
                                               facts=outcome.facts_block, task=render("reply", task, lang=lang))}]


def reply_words(writer: Any, outcome: ToolOutcome, *, text: str, lang: str, state: DialogueState, shop: str,
                max_tokens: int, removed: list[str]) -> Iterator[str]:
    """Pieces of the reply, in order, as they may be shown; what the gate removed goes to `removed`."""
    model_writes = writer is not None and outcome.advise == "turn"
    lead_first = bool(outcome.lead) and (not model_writes or outcome.nearest or outcome.compare)
    if lead_first:
        yield outcome.lead
    if outcome.body:
        yield ("\n" if outcome.lead else "") + outcome.body
    if not model_writes:
        return
    facts = Facts.build([p.model_dump() for p in state.catalog_seen.values()],
                        this_turn=[c.to_dict() for c in outcome.cards], user_texts=[text])
    facts.lang = lang
    gate = SentenceGate(facts)
    sep = " " if lang == "en" else ""
    pieces: list[str] = []

    def shown(piece: str) -> str:
        first = not pieces
        pieces.append(piece)
        return (sep if first and lead_first else "") + (piece.lstrip() if first else piece)

    stream = writer.stream(_messages(outcome, text, lang, shop), max_new_tokens=max_tokens)
    try:
        for token in stream:
            released = gate.feed(token)
            if released:
                yield shown(released)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # a shopper who leaves mid-reply frees the model
    stats = getattr(writer, "last_stats", None)
    cut = stats is not None and getattr(stats, "decode_tokens", 0) >= max_tokens
    tail = gate.close(complete=not cut)
    if tail:
        yield shown(tail)
    removed += gate.removed
    if not pieces and not lead_first and outcome.lead:
        yield outcome.lead  # nothing the model wrote passed: the fixed sentence
