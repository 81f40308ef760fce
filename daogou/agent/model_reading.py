"""The local model's reading of a shopper's turn: what they want (act), the kinds of product, which products on screen.

`ModelReader(writer, index)(text, state)` asks the model for one grammar-constrained JSON object
`{"act", "kinds", "refs"}` (prompt and few-shot examples in `prompts/reading.yaml`). The system prompt holds the
shop's own kinds of product, so it is the same on every turn of a catalog and its KV state is reused; a turn
costs the shopper's words and the titles on screen. The reading is a proposal: `reading.combine` checks every
field against the shopper's words and the catalog before anything uses it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from daogou.agent.state import DialogueState
from daogou.llm.generation import GenerationError
from daogou.prompts import load_prompts, render
from daogou.tools.catalog_index import CatalogIndex

__all__ = ["ACTS", "ModelReader", "ModelReading"]

log = logging.getLogger(__name__)

ACTS = ("search", "similar", "recommend", "details", "compare", "answer", "copy", "chat")
MAX_TEXT_CHARS = 300  # of the shopper's message the model reads (a 5,000-character paste is not re-read)
MAX_SCREEN = 5  # products on screen listed for the model
MAX_TITLE_CHARS = 40  # of each title
MAX_KINDS_LISTED = 40  # kinds of the shop named in the system prompt
MAX_TOKENS = 64  # a reading is ~15-35 tokens


@dataclass(frozen=True)
class ModelReading:
    """What the model read: the act, kinds of product (as it wrote them), and positions on screen (1-based)."""

    act: str
    kinds: list[str] = field(default_factory=list)
    refs: list[int] = field(default_factory=list)
    ms: float = 0.0  # how long the reading took


def _schema(on_screen: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "act": {"type": "string", "enum": list(ACTS)},
            "kinds": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 24}, "maxItems": 3},
            "refs": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": max(on_screen, 1)},
                     "maxItems": 3},
        },
        "required": ["act", "kinds", "refs"],
        "additionalProperties": False,
    }


class ModelReader:
    """Callable `(text, state) -> ModelReading | None`; None when the model could not read the turn."""

    def __init__(self, writer: Any, index: CatalogIndex) -> None:
        self.writer = writer
        self.index = index
        self._system: tuple[int, list[dict[str, str]]] | None = None  # (vocabulary id, prompt prefix)

    def _prefix(self) -> list[dict[str, str]]:
        """System prompt + few-shot turns: the same for every turn of this catalog (its KV state is reused)."""
        vocab = self.index.vocabulary
        if self._system is None or self._system[0] != id(vocab):
            kinds = "、".join(list(vocab.kinds)[:MAX_KINDS_LISTED]) or "all kinds of products"
            messages = [{"role": "system", "content": render("reading", "system", kinds=kinds)}]
            for ex in load_prompts("reading")["examples"]:
                messages.append({"role": "user", "content": render("reading", "user", screen=ex["screen"],
                                                                     text=ex["user"])})
                messages.append({"role": "assistant", "content": json.dumps(ex["reading"], ensure_ascii=False)})
            self._system = (id(vocab), messages)
        return list(self._system[1])

    def messages(self, text: str, state: DialogueState) -> list[dict[str, str]]:
        """The whole prompt of one reading."""
        screen = [state.catalog_seen[pid].title[:MAX_TITLE_CHARS] for pid in state.shown[:MAX_SCREEN]
                  if pid in state.catalog_seen]
        return self._prefix() + [{"role": "user", "content": render("reading", "user", screen=screen,
                                                                     text=text[:MAX_TEXT_CHARS])}]

    def __call__(self, text: str, state: DialogueState) -> ModelReading | None:
        """The model's reading of this turn, or None (the rules read it alone) when the model fails, or when it is
        busy with another shopper's request (a turn's cards never wait behind someone else's reply)."""
        import time

        if getattr(self.writer, "pending", 0) > 0:
            log.info("the model is busy with another request; the rules read this turn")
            return None
        on_screen = min(len(state.shown), MAX_SCREEN)
        t0 = time.perf_counter()
        try:
            raw = self.writer.generate_json(self.messages(text, state), _schema(on_screen), max_new_tokens=MAX_TOKENS)
        except (GenerationError, ValueError, KeyError) as e:
            log.warning("model reading failed (%s); the rules read the turn", e)
            return None
        refs = [int(n) for n in raw.get("refs", []) if isinstance(n, int) and 1 <= n <= on_screen]
        kinds = [str(k).strip() for k in raw.get("kinds", []) if str(k).strip()]
        return ModelReading(act=str(raw.get("act", "chat")), kinds=list(dict.fromkeys(kinds)),
                            refs=list(dict.fromkeys(refs)), ms=round((time.perf_counter() - t0) * 1000, 1))
