"""`LocalChatModel`: the local LLM as a LangChain chat model, with grammar-constrained tool calls and streaming.

With tools bound, every turn first asks the model for one decision, decoded under a JSON schema so it always
parses: `{"name": <a bound tool, or "respond">, "arguments": <that tool's parameters>}`. The prompt shows the
tools through the model's own chat template (Qwen2.5 Hermes style) and the completion starts inside a
`<tool_call>` block, as the model was trained. A tool choice becomes `AIMessage(tool_calls=[...])`; "respond"
falls through to ordinary text generation, which streams token by token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    UsageMetadata,
)
from langchain_core.messages.tool import tool_call, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr

from daogou.llm.generation import ChatLLM, GenerationError, GenerationStats
from daogou.prompts import load_prompts, render

__all__ = ["RESPOND", "TOOL_CALL_PREFIX", "LocalChatModel", "allowed_tools", "compact_schema", "decision_schema",
           "parse_decision", "pick_examples", "to_chat_messages"]

log = logging.getLogger(__name__)

RESPOND = "respond"  # the decision "answer without a tool"
TOOL_CALL_PREFIX = "<tool_call>\n"  # where the constrained JSON starts, as in the model's chat template
MAX_EXAMPLES = 3  # few-shot examples in the system prompt; more makes the 0.5B copy their values


# ------------------------------------------------------------------------------------------ pure helpers
def _tool_name(tool: dict[str, Any]) -> str:
    return str(tool["function"]["name"])


def allowed_tools(tool_choice: Any, names: Sequence[str]) -> tuple[list[str], bool]:
    """The tools a decision may pick under `tool_choice`, and whether "respond" (no tool) is allowed.

    None/"auto": any tool or respond; "none": neither (plain text); "any"/"required"/True: any tool;
    a tool name or {"type": "function", "function": {"name": ...}}: exactly that tool.
    """
    if tool_choice is None or tool_choice == "auto":
        return list(names), True
    if tool_choice == "none" or tool_choice is False:
        return [], True
    if tool_choice in ("any", "required") or tool_choice is True:
        return list(names), False
    name = tool_choice
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
    if isinstance(name, str) and name in names:
        return [name], False
    raise ValueError(f"tool_choice={tool_choice!r} is not valid; use None, 'auto', 'none', 'any', 'required' or "
                     f"one of the bound tools: {list(names)}")


def compact_schema(node: Any) -> Any:
    """A shorter, equivalent-or-stricter JSON schema: no titles, no null defaults, `X | None` -> `X`.

    Pydantic writes optional fields as `anyOf: [X, {"type": "null"}]` with `default: null`; an optional
    argument is better left out than set to null, and the tool list in the prompt gets about half as long.
    """
    if isinstance(node, list):
        return [compact_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if (key == "title" and isinstance(value, str)) or (key == "default" and value is None):
            continue
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: compact_schema(sub) for name, sub in value.items()}  # names are not keywords
        else:
            out[key] = compact_schema(value)
    options = out.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(o for o in options if o != {"type": "null"})
        rest = {k: v for k, v in out.items() if k != "anyOf"}
        out = {**other, **rest} if isinstance(other, dict) else out
    return out


def _prefixed_refs(node: Any, old: str, new: str) -> Any:
    """A copy of the schema `node` with every `$ref` starting with `old` rewritten to start with `new`."""
    if isinstance(node, dict):
        return {k: (new + v[len(old):] if k == "$ref" and isinstance(v, str) and v.startswith(old)
                    else _prefixed_refs(v, old, new)) for k, v in node.items()}
    if isinstance(node, list):
        return [_prefixed_refs(v, old, new) for v in node]
    return node


def _parameters(tool: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The tool's parameter schema, its `$defs` moved into `defs` under names prefixed by the tool name."""
    params = dict(tool["function"].get("parameters") or {"type": "object", "properties": {}})
    name = _tool_name(tool)
    for key in ("$defs", "definitions"):
        for def_name, sub in (params.pop(key, None) or {}).items():
            defs[f"{name}__{def_name}"] = _prefixed_refs(sub, f"#/{key}/", f"#/$defs/{name}__")
        params = _prefixed_refs(params, f"#/{key}/", f"#/$defs/{name}__")
    params.setdefault("type", "object")
    params.setdefault("properties", {})
    return params


def decision_schema(tools: Sequence[dict[str, Any]], allowed: Sequence[str], respond: bool) -> dict[str, Any]:
    """JSON schema of one decision: `anyOf` one branch per allowed tool (+ "respond" with empty arguments).

    Each branch is `{"name": {"const": tool}, "arguments": <the tool's parameters>}`, name first, so the
    arguments are written knowing the tool.
    """
    defs: dict[str, Any] = {}
    branches = []
    for tool in tools:
        if _tool_name(tool) in allowed:
            branches.append(_branch(_tool_name(tool), _parameters(tool, defs)))
    if respond:
        branches.append(_branch(RESPOND, {"type": "object", "properties": {}, "additionalProperties": False}))
    if not branches:
        raise ValueError("no tool is allowed and respond is off: nothing to decide")
    schema: dict[str, Any] = {"anyOf": branches} if len(branches) > 1 else branches[0]
    if defs:
        schema = {**schema, "$defs": defs}
    return schema


def _branch(name: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"name": {"const": name}, "arguments": params},
            "required": ["name", "arguments"], "additionalProperties": False}


def parse_decision(decision: Any, tools: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """A LangChain ToolCall from a decision object, or None for "respond".

    Optional arguments the model set to null are dropped (null means "not said"); required ones are kept.
    """
    if not isinstance(decision, dict) or not isinstance(decision.get("name"), str):
        raise GenerationError(f"a tool decision must be {{'name': str, 'arguments': {{...}}}}, got {decision!r}")
    name, args = decision["name"], decision.get("arguments") or {}
    if name == RESPOND:
        return None
    by_name = {_tool_name(t): t for t in tools}
    if name not in by_name:
        raise GenerationError(f"decision names unknown tool {name!r}; bound tools: {sorted(by_name)}")
    required = set((by_name[name]["function"].get("parameters") or {}).get("required", []))
    args = {k: v for k, v in args.items() if v is not None or k in required}
    return tool_call(name=name, args=args, id=f"call_{uuid.uuid4().hex[:24]}")


def pick_examples(examples: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]], allowed: Sequence[str],
                  respond: bool, limit: int = MAX_EXAMPLES) -> list[dict[str, str]]:
    """Few-shot examples that fit the bound tools: the tool is allowed and the arguments fit its parameters."""
    params = {_tool_name(t): t["function"].get("parameters") or {} for t in tools}
    picked = []
    for ex in examples:
        name, args = ex.get("name"), ex.get("arguments") or {}
        if name == RESPOND:
            fits = respond and not args
        else:
            p = params.get(name) if name in allowed else None
            fits = (p is not None and set(args) <= set(p.get("properties", {}))
                    and set(p.get("required", [])) <= set(args))
        if fits:
            call = json.dumps({"name": name, "arguments": args}, ensure_ascii=False)
            picked.append({"user": str(ex["user"]), "call": call})
    return picked[:limit]


def to_chat_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages as chat-template dicts (role/content, assistant tool_calls, role "tool" results)."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, SystemMessage):
            out.append({"role": "system", "content": m.text})
        elif isinstance(m, HumanMessage):
            out.append({"role": "user", "content": m.text})
        elif isinstance(m, AIMessage):
            msg: dict[str, Any] = {"role": "assistant", "content": m.text}
            if m.tool_calls:
                msg["tool_calls"] = [{"type": "function", "id": c.get("id"),
                                      "function": {"name": c["name"], "arguments": c["args"]}} for c in m.tool_calls]
            out.append(msg)
        elif isinstance(m, ToolMessage):
            out.append({"role": "tool", "content": m.text, "tool_call_id": m.tool_call_id})
        elif isinstance(m, ChatMessage) and m.role in ("system", "user", "assistant", "tool"):
            out.append({"role": m.role, "content": m.text})
        else:
            raise ValueError(f"cannot render message type {type(m).__name__} (role {getattr(m, 'role', None)!r}); "
                             "use System/Human/AI/Tool messages or ChatMessage with role system/user/assistant/tool")
    return out


# ---------------------------------------------------------------------------------------------- the model
class LocalChatModel(BaseChatModel):
    """The bundled local LLM (or any transformers chat model folder) as a LangChain chat model.

    Setup: nothing beyond `pip install -e .`; the bundled Qwen2.5-Coder-0.5B-Instruct runs on llama.cpp.

    Key init args:
        llm: a loaded engine (`LlamaEngine`, `LocalLLM`, `OpenAIWriter`: anything with `stream` /
            `generate_json`); None -> loaded on first use from `model_path` (see `load`).
        max_tokens: tokens per text reply. decision_max_tokens: tokens per tool decision.
        temperature: 0 = greedy. lang: language of the tool guide ("zh" or "en"). few_shot: add examples.

    Example:
        .. code-block:: python

            model = LocalChatModel(threads=2).bind_tools(tools)
            model.invoke("帮我找300元以内的红色连衣裙").tool_calls
            # [{'name': 'search_catalog', 'args': {'query': '红色连衣裙', 'price_max': 300}, 'id': 'call_…', ...}]
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llm: Any = Field(default=None, exclude=True)  # ChatLLM; None -> loaded on first use (see load)
    model_path: str | None = None  # a .gguf file or a transformers model folder; None -> the configured engine
    model_name: str = "qwen2.5-coder-0.5b-instruct"  # for traces
    threads: int = 2  # torch threads when this model loads the LLM itself
    temperature: float = 0.0  # 0 = greedy
    max_tokens: int = 256  # new tokens per text reply
    decision_max_tokens: int = 128  # new tokens per constrained tool decision
    stop: list[str] | None = None  # stop strings for text replies
    timeout: float | None = None  # accepted for API parity; local generation is bounded by max_tokens
    max_retries: int = 0  # accepted for API parity; local generation does not retry
    streaming: bool = False  # invoke() streams internally (callbacks get tokens)
    lang: Literal["zh", "en"] = "zh"  # language of the tool-choice guide in the system prompt
    few_shot: bool = True  # show up to three worked tool calls from prompts/agent.yaml

    _load_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "daogou-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "model_path": self.model_path, "temperature": self.temperature,
                "max_tokens": self.max_tokens}

    def load(self) -> ChatLLM:
        """The underlying LLM, loading it now if it was not given.

        A transformers folder as `model_path` loads the transformers reference (`LocalLLM`, `threads` torch
        threads); a .gguf file, or nothing (the engine DAOGOU_LLM* settings choose), the shared llama.cpp engine.
        """
        with self._load_lock:
            if self.llm is None:
                from daogou.settings import Settings

                path = Path(self.model_path) if self.model_path else None
                if path is not None and path.is_dir():
                    from daogou.llm.transformers_engine import LocalLLM

                    self.llm = LocalLLM(path, threads=self.threads)
                else:
                    from daogou.llm.backends import make_writer

                    settings = Settings.from_env()
                    self.llm = make_writer(settings.with_(llm="llama", llm_path=path) if path else settings)
                    if self.llm is None:
                        raise ValueError("DAOGOU_LLM=none: LocalChatModel has no model to load; set DAOGOU_LLM or "
                                         "pass llm=...")
            return self.llm

    def bind_tools(self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool], *,
                   tool_choice: Any = None, **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (LangChain tools, functions, pydantic models or OpenAI tool dicts) for constrained calls.

        Their schemas are compacted (`compact_schema`): the model sees, and is constrained by, the short form.
        """
        formatted = [compact_schema(convert_to_openai_tool(t)) for t in tools]
        names = [_tool_name(t) for t in formatted]
        if RESPOND in names:
            raise ValueError(f"a tool may not be named {RESPOND!r}: that name means 'answer without a tool'")
        allowed_tools(tool_choice, names)  # fail now on a bad tool_choice, not at the first call
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    # ----------------------------------------------------------------------------------------- decisions
    def decide(self, chat: list[dict[str, Any]], tools: list[dict[str, Any]], tool_choice: Any = None,
               stats: GenerationStats | None = None) -> dict[str, Any] | None:
        """One constrained tool decision over chat dicts: a ToolCall, or None for "respond" (timings in `stats`)."""
        allowed, respond = allowed_tools(tool_choice, [_tool_name(t) for t in tools])
        if not allowed:
            return None
        shown = [t for t in tools if _tool_name(t) in allowed]
        if respond:
            shown.append({"type": "function", "function": {
                "name": RESPOND, "description": render("agent", "tool_respond", lang=self.lang),
                "parameters": {"type": "object", "properties": {}}}})
        examples = pick_examples(load_prompts("agent").get("tool_examples", []), tools, allowed, respond) \
            if self.few_shot else []
        guide = render("agent", "tool_guide", lang=self.lang, respond=respond, examples=examples)
        chat = _with_guide(chat, guide)
        try:
            decision = self.load().generate_json(
                chat, decision_schema(tools, allowed, respond), tools=shown, assistant_prefix=TOOL_CALL_PREFIX,
                max_new_tokens=self.decision_max_tokens, stats=stats)
        except GenerationError as e:
            if not respond:
                raise
            log.warning("tool decision failed (%s); answering without a tool", e)
            return None
        return parse_decision(decision, tools)

    # ---------------------------------------------------------------------------------------- generation
    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        chat, stats = to_chat_messages(messages), GenerationStats()
        call = self._maybe_decide(chat, kwargs, stats)
        if call is not None:
            msg = AIMessage(content="", tool_calls=[call], response_metadata=self._metadata("tool_calls", stats),
                            usage_metadata=_usage(stats))
            return ChatResult(generations=[ChatGeneration(message=msg)])
        stats = GenerationStats()
        text = "".join(self.load().stream(chat, **self._text_kwargs(stop, kwargs), stats=stats))
        msg = AIMessage(content=text, response_metadata=self._metadata("stop", stats), usage_metadata=_usage(stats))
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        chat, stats = to_chat_messages(messages), GenerationStats()
        call = self._maybe_decide(chat, kwargs, stats)
        if call is not None:
            part = tool_call_chunk(name=call["name"], args=json.dumps(call["args"], ensure_ascii=False),
                                   id=call["id"], index=0)
            yield ChatGenerationChunk(message=AIMessageChunk(
                content="", tool_call_chunks=[part], response_metadata=self._metadata("tool_calls", stats),
                usage_metadata=_usage(stats), chunk_position="last"))
            return
        stats = GenerationStats()
        pieces = self.load().stream(chat, **self._text_kwargs(stop, kwargs), stats=stats)
        try:
            for piece in pieces:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager is not None:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # a consumer that stops early releases the model at once
        yield ChatGenerationChunk(message=AIMessageChunk(
            content="", response_metadata=self._metadata("stop", stats), usage_metadata=_usage(stats),
            chunk_position="last"))

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        # the decode loop blocks for seconds: run it in a worker thread, never on the event loop
        return await asyncio.to_thread(self._generate, messages, stop, None, **kwargs)

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any,
                       ) -> AsyncIterator[ChatGenerationChunk]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()
        done = object()

        def post(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop closed while we were generating: nobody is listening
                cancelled.set()

        def produce() -> None:
            chunks = self._stream(messages, stop, None, **kwargs)
            try:
                for chunk in chunks:
                    if cancelled.is_set():
                        break
                    post(chunk)
            except Exception as e:  # handed to the consumer, which re-raises it in the event loop
                post(e)
            finally:
                chunks.close()
                post(done)

        worker = loop.run_in_executor(None, produce)
        try:
            while (item := await queue.get()) is not done:
                if isinstance(item, Exception):
                    raise item
                if run_manager is not None and item.text:
                    await run_manager.on_llm_new_token(item.text, chunk=item)
                yield item
            await worker
        finally:
            cancelled.set()  # the worker stops after its current token and releases the model

    # ------------------------------------------------------------------------------------------- helpers
    def _maybe_decide(self, chat: list[dict[str, Any]], kwargs: dict[str, Any], stats: GenerationStats,
                      ) -> dict[str, Any] | None:
        tools = kwargs.get("tools") or []
        if not tools:
            return None
        return self.decide(chat, tools, kwargs.get("tool_choice"), stats)

    def _text_kwargs(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        max_new = kwargs.get("max_tokens") or kwargs.get("max_new_tokens") or self.max_tokens
        temperature = kwargs.get("temperature", self.temperature)
        return {"max_new_tokens": int(max_new), "temperature": float(temperature),
                "stop": list(stop or []) + list(self.stop or [])}

    def _metadata(self, finish_reason: str, stats: GenerationStats) -> dict[str, Any]:
        return {"model_name": self.model_name, "finish_reason": finish_reason, "timings": stats.as_dict()}


def _usage(s: GenerationStats) -> UsageMetadata:
    """LangChain usage figures of one call (prompt tokens read from the prefix cache count as cache reads)."""
    return UsageMetadata(input_tokens=s.prompt_tokens, output_tokens=s.decode_tokens,
                         total_tokens=s.prompt_tokens + s.decode_tokens,
                         input_token_details={"cache_read": s.cached_tokens})


def _with_guide(chat: list[dict[str, Any]], guide: str) -> list[dict[str, Any]]:
    """`chat` with the tool guide appended to its system message (or as a new leading system message)."""
    if chat and chat[0]["role"] == "system":
        return [{**chat[0], "content": f"{chat[0]['content']}\n\n{guide}"}, *chat[1:]]
    return [{"role": "system", "content": guide}, *chat]
