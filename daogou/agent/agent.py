"""One shopper turn, end to end: read it, pick and check the tool call, run it, show cards, stream grounded words.

The order matters for the shopper: product cards are emitted the moment the tool returns, then a lead
sentence written from the tool result, then (if a model is attached) one or two sentences of advice from
the local LLM, each checked against the catalog before it is released (`daogou.agent.grounding`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image

from daogou.agent.model_reading import ModelReading
from daogou.agent.policy import ToolCall, choose_tool
from daogou.agent.reading import Reading, combine, read_rules
from daogou.agent.replies import reply_words
from daogou.agent.runner import ToolOutcome, call_filters, run_tool
from daogou.agent.state import DialogueState, ShownProduct
from daogou.prompts import render
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.errors import ToolError

__all__ = ["MAX_MESSAGE_CHARS", "Agent", "ReplyWriter", "TurnEvent", "TurnResult"]

MAX_MESSAGE_CHARS = 2000  # longer messages are cut (and the cut is said in the trace), never refused silently


class ReplyWriter(Protocol):
    """What the agent needs of a language model: token streaming from chat messages (LocalLLM has it)."""

    def stream(self, messages: list[dict[str, str]], *, max_new_tokens: int = ...) -> Iterator[str]: ...  # noqa: D102


@dataclass(frozen=True)
class TurnEvent:
    """A step of a turn, for streaming faces: tool (name/args/trace), products (cards), token (text), done."""

    kind: str
    data: Any


@dataclass
class TurnResult:
    """One turn in the `chat --json` contract (DESIGN.md)."""

    text: str
    products: list[dict[str, Any]]
    tool_calls: list[dict[str, Any]]
    timings_ms: dict[str, float]
    lang: str = "zh"
    trace: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # reply sentences removed by the grounding check

    def to_json(self) -> dict[str, Any]:
        """The JSON object of one turn."""
        return {"text": self.text, "products": self.products, "tool_calls": self.tool_calls,
                "timings_ms": self.timings_ms, "lang": self.lang, "trace": self.trace,
                "grounding": {"removed": self.removed}}


class Agent:
    """The shopping agent over a catalog index, with an optional local model for the words."""

    def __init__(self, index: CatalogIndex, *, writer: ReplyWriter | None = None, shop: str = "本店",
                 k: int = 5, advice_tokens: int = 90, reader: Callable[[str, DialogueState], ModelReading | None]
                 | None = None, copy_writer: ReplyWriter | None = None) -> None:
        self.index = index
        self.writer = writer
        # the model that writes product copy: a LoRA-tuned copy of the LLM (`daogou tune copy`), else `writer`
        self.copy_writer = copy_writer
        self.shop = shop
        self.k = k
        self.advice_tokens = advice_tokens
        self.reader = reader  # the model's reading of each turn (checked by reading.combine), or None: rules only

    # -- public faces ----------------------------------------------------------------------------
    def run_turn(self, state: DialogueState, text: str, image: Image.Image | None = None) -> TurnResult:
        """Run a whole turn and return its result (the `chat --json` object)."""
        result: TurnResult | None = None
        for event in self.stream_turn(state, text, image):
            if event.kind == "done":
                result = event.data
        if result is None:  # pragma: no cover - stream_turn always ends with done
            raise RuntimeError("turn ended without a result")
        return result

    def stream_turn(self, state: DialogueState, text: str, image: Image.Image | None = None
                    ) -> Iterator[TurnEvent]:
        """Run a turn, yielding tool, products and token events as they happen, then done(TurnResult)."""
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        trace: list[str] = []

        def ms() -> float:
            return round((time.perf_counter() - t0) * 1000, 1)

        text = (text or "").strip()
        if len(text) > MAX_MESSAGE_CHARS:
            text = text[:MAX_MESSAGE_CHARS]
            trace.append(f"message cut to {MAX_MESSAGE_CHARS} characters")
        self.index.refresh()
        if not text and image is None:
            lead = render("messages", "empty_message", lang=state.lang)
            yield TurnEvent("token", lead)
            yield TurnEvent("done", TurnResult(lead, [], [], {"total": ms()}, state.lang, trace))
            return
        reading = read_rules(text, state, self.index)
        model = self.reader(text, state) if self.reader is not None else None
        if model is not None:
            timings["reading"] = model.ms
        reading = combine(reading, model, text, state, self.index)
        state.lang = reading.lang
        state.turns += 1
        state.user_numbers += [float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)]
        state.interactions += reading.signals
        call = choose_tool(reading, state, image is not None, k=self.k)
        trace += reading.notes[-1:] if model is not None else []
        trace += call.notes
        if call.name is not None:
            yield TurnEvent("tool", {"name": call.name, "args": call.args, "status": "pending"})
        outcome = run_tool(self.index, call, state, image=image, text=text, lang=reading.lang,
                           generate=self._generate if (self.copy_writer or self.writer) is not None else None,
                           copy_prompt=self._copy_prompt_key())
        tool_calls = [] if call.name is None else [{"name": call.name, "args": call.args}]  # as run (ids resolved)
        timings["tool"] = ms()
        trace.append(outcome.trace)
        if call.name is not None:
            yield TurnEvent("tool", {"name": call.name, "args": call.args, "status": "done", "trace": outcome.trace,
                                     "duration_ms": timings["tool"]})
        cards = outcome.cards
        if cards:
            timings["first_card"] = ms()
            yield TurnEvent("products", [c.to_dict() for c in cards])
        self._update_state(state, reading, call, outcome)
        words: list[str] = []
        removed: list[str] = []
        for piece in self._words(state, reading, text, outcome, removed):
            if not piece:
                continue
            timings.setdefault("first_token", ms())
            words.append(piece)
            yield TurnEvent("token", piece)
        timings["total"] = ms()
        result = TurnResult(text="".join(words).strip(), products=[c.to_dict() for c in cards], tool_calls=tool_calls,
                            timings_ms=timings, lang=reading.lang, trace=trace, removed=removed)
        yield TurnEvent("done", result)

    # -- state -----------------------------------------------------------------------------------
    def _update_state(self, state: DialogueState, reading: Reading, call: ToolCall, outcome: ToolOutcome) -> None:
        shown = [ShownProduct(id=c.id, title=c.title, price=c.price, brand=c.brand, category=c.category,
                              attributes=c.attributes) for c in outcome.cards]
        state.last_tool = call.name
        as_list = call.name in ("search_catalog", "similar_products", "recommend_for_user", "compare_products") \
            or len(shown) > 1
        state.remember(shown, as_list=as_list)
        if call.name in ("search_catalog",) and not outcome.error:
            state.query = call.args.get("query", state.query) or state.query
            if reading.intent == "search":
                state.kinds, state.need = list(reading.kinds), reading.need
            state.filters = reading.filters
            if len(shown) == 1:
                state.interactions.append((shown[0].id, "viewed"))  # asked for by name and looked at
        anchor = None
        if call.name == "similar_products" and call.args.get("product_id") and not outcome.error:
            anchor = call.args["product_id"]
            state.filters = call_filters(self.index, call.args)  # refinements revise these ("300以内", "in black")
        elif call.name == "search_catalog" and call.args.get("image") and shown:
            anchor = shown[0].id  # the nearest product to the photo stands for it in refinements
            state.filters = reading.parsed.filters
        state.anchor = anchor
        if call.name == "answer_about_product":
            state.last_question = call.args.get("question", "")
        if call.name in ("product_details", "answer_about_product", "write_copy", "similar_products") \
                and call.args.get("product_id"):
            state.focus = call.args["product_id"]

    # -- words -----------------------------------------------------------------------------------
    def _words(self, state: DialogueState, reading: Reading, text: str, outcome: ToolOutcome,
               removed: list[str]) -> Iterator[str]:
        return reply_words(self.writer, outcome, text=text, lang=reading.lang, state=state, shop=self.shop,
                           max_tokens=self.advice_tokens, removed=removed)

    def _copy_prompt_key(self) -> str:
        """The copy.yaml template the copy model expects: an adapter was trained on one ("prompt_tuned")."""
        adapter = getattr(self.copy_writer, "adapter", None)
        return getattr(adapter, "prompt_key", "prompt") if self.copy_writer is not None else "prompt"

    def _generate(self, prompt: str, max_new_tokens: int = 220) -> str:
        """Text for a tool that writes (product copy): the copy model when there is one, else the reply model."""
        model = self.copy_writer or self.writer
        if model is None:
            raise ToolError("no language model is attached; start the agent with a model to write copy")
        messages = [{"role": "user", "content": prompt}]
        return "".join(model.stream(messages, max_new_tokens=max_new_tokens))
