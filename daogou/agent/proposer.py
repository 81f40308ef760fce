"""The LLM's half of "the model proposes, code checks": a constrained tool decision for one shopper turn.

`LLMProposer(llm, index)(text, state)` asks `LocalChatModel.decide` (grammar-constrained JSON over the seven tool
schemas) which tool to call; the result is a `ToolCall` for `policy.choose_tool`, which keeps only what the
shopper's words support. It is used when `Settings.tool_proposer == "llm"` (DAOGOU_TOOL_PROPOSER=llm).
"""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.utils.function_calling import convert_to_openai_tool

from daogou.agent.policy import ToolCall
from daogou.agent.state import DialogueState
from daogou.llm.chat_model import LocalChatModel, compact_schema
from daogou.llm.transformers_engine import GenerationError
from daogou.tools.catalog_index import CatalogIndex
from daogou.tools.langchain_tools import ToolContext, build_tools

__all__ = ["LLMProposer"]

log = logging.getLogger(__name__)


def _no_copy(prompt: str) -> str:  # the schemas are all the proposer needs of the tools; nothing is run here
    raise RuntimeError("the proposer only reads tool schemas")


class LLMProposer:
    """Callable `(text, state) -> ToolCall | None`: the model's tool and arguments, unchecked."""

    def __init__(self, llm: Any, index: CatalogIndex) -> None:
        self.model = LocalChatModel(llm=llm)
        self.tools = [compact_schema(convert_to_openai_tool(t)) for t in build_tools(ToolContext(index, _no_copy))]

    def __call__(self, text: str, state: DialogueState) -> ToolCall | None:
        """The proposal for this turn; None when the model could not decide (the rules then decide alone)."""
        shown = "; ".join(f"{pid} {state.catalog_seen[pid].title}" for pid in state.shown[:5]
                          if pid in state.catalog_seen)
        chat = [{"role": "user", "content": f"[shown: {shown}]\n{text}" if shown else text}]
        self.model.lang = state.lang if state.lang in ("zh", "en") else "zh"
        try:
            call = self.model.decide(chat, self.tools)
        except GenerationError as e:
            log.warning("tool proposal failed (%s); the rules decide", e)
            return None
        if call is None:
            return ToolCall(None)
        return ToolCall(call["name"], dict(call["args"]))
