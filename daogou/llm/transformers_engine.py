"""The transformers reference backend: a causal LM with a prefix KV cache, streaming and JSON-constrained decoding.

Selected with `DAOGOU_LLM=transformers` (the default engine is llama.cpp, `daogou.llm.llama_engine`); training
(`daogou tune copy`) and the parity tests use it as the reference. `LocalLLM` owns one model and one
tokenizer. Every turn of a chat re-renders the whole conversation, and that rendering starts with the same
long prefix (system prompt + tool schemas); prefilling it costs seconds on a small CPU, so the KV cache of
recently seen token sequences is kept and the longest common prefix is reused, leaving only the new suffix
to prefill. Prompts are prefilled in aligned chunks and only whole chunks are reused, so greedy decoding
with and without that cache computes the same numbers and gives the same tokens.

`generate_json` constrains decoding to a JSON schema with xgrammar, so its result always parses and matches.
One generation runs at a time per model (a lock); the CPU has too few cores for more to help. The shared
interface and its records (`ChatLLM`, `GenerationStats`, `GenerationError`) live in `daogou.llm.generation`.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from daogou.llm.generation import ChatLLM, GenerationError, GenerationStats

if TYPE_CHECKING:
    from daogou.settings import Settings

__all__ = ["DTYPES", "ChatLLM", "GenerationError", "GenerationStats", "LocalLLM"]

log = logging.getLogger(__name__)

# int8: fp32 weights + torch dynamic int8 quantization of Linear layers; auto: see daogou/llm/torch_dtype.py
DTYPES = ("auto", "bfloat16", "float32", "int8")


@dataclass
class _Entry:
    """A cached KV state and the exact token ids it holds."""

    ids: tuple[int, ...]
    cache: Any  # transformers DynamicCache
    exact: int  # leading positions prefilled in whole aligned chunks: only these may be reused


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


class LocalLLM:
    """A local transformers causal LM with prefix KV caching, streaming and JSON-schema constrained decoding.

    Args:
        model_path: a transformers model folder (with tokenizer and chat template); None -> the bundled
            Qwen2.5-Coder-0.5B-Instruct bf16 copy, converted once from its verified GGUF.
        threads: torch CPU threads (process-wide).
        settings: where the bundled model is cached (`settings.models_dir`); None -> `Settings.from_env()`.
        dtype: "bfloat16", "float32", "int8" (fp32 weights, dynamic int8 Linear layers: faster decoding here
            but measurably worse tool choices — see bench/llm_bench.py) or "auto": bfloat16 where the CPU has
            bf16 instructions, else float32 (torch_dtype.py); None -> settings.torch_dtype (default "auto").
        prefix_cache_size: how many KV states of past prompts to keep (LRU); 0 disables the reuse.
        prefill_chunk: prompts are prefilled in chunks aligned at multiples of this many tokens, and only
            whole chunks are reused, so a cached prefix yields exactly the numbers (and tokens) of a cold
            prefill; bf16 results depend on matrix shapes, an unaligned split can flip a greedy token.
        jump_forward: in `generate_json`, feed text the grammar forces (`", "arguments": {"`) in one
            forward pass instead of token by token.
        adapter: a LoRA adapter folder written by `daogou tune copy`; merged into the weights at load, so
            decoding costs the same (see daogou/tuning/copy_lora.py).

    Example:
        >>> llm = LocalLLM(threads=2)
        >>> "".join(llm.stream([{"role": "user", "content": "你好"}], max_new_tokens=20))
        '你好！有什么我可以帮助你的吗？'
    """

    def __init__(self, model_path: Path | None = None, *, threads: int = 2, settings: Settings | None = None,
                 dtype: str | None = None, prefix_cache_size: int = 4, prefill_chunk: int = 256,
                 jump_forward: bool = True, adapter: Path | None = None) -> None:
        if dtype is None:
            from daogou.settings import Settings

            dtype = (settings or Settings.from_env()).torch_dtype
        if dtype not in DTYPES:
            raise ValueError(f"dtype={dtype!r} is not supported; choose one of {DTYPES}")
        if dtype == "auto":
            from daogou.llm.torch_dtype import resolve_dtype

            dtype = resolve_dtype(dtype)
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
            os.environ.setdefault(var, "1")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if model_path is None:
            from daogou.llm.provision import llm_transformers_dir
            from daogou.settings import Settings

            model_path = llm_transformers_dir(settings or Settings.from_env())
        self.model_path = Path(model_path)
        if not (self.model_path / "config.json").is_file():
            raise FileNotFoundError(f"{self.model_path} is not a transformers model folder (no config.json); "
                                    "point model_path at a folder written by save_pretrained")
        torch.set_num_threads(threads)
        self.threads, self.dtype = threads, dtype
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(
                self.model_path, local_files_only=True,
                dtype=torch.bfloat16 if dtype == "bfloat16" else torch.float32,
            ).eval()
        except (OSError, ValueError) as e:
            raise OSError(f"cannot load a causal LM from {self.model_path}: {e}. Fix: give a folder with "
                          "config.json, weights and tokenizer files (save_pretrained output)") from e
        if not self.tokenizer.chat_template:
            raise ValueError(f"the tokenizer in {self.model_path} has no chat template; use an instruct model")
        self.adapter = None
        if adapter is not None:
            from daogou.llm.adapters import merge_adapter

            self.model, self.adapter = merge_adapter(self.model, Path(adapter), self.model_path)
        if dtype == "int8":
            self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
        self.vocab_size = int(self.model.config.vocab_size)  # logits width; may exceed len(tokenizer)
        self.eos_ids = self._eos_ids()
        # transformers renamed the forward argument `past_key_values` to `cache` during 5.x
        params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        if prefill_chunk < 1:
            raise ValueError(f"prefill_chunk={prefill_chunk} must be at least 1 (256 is a good value)")
        self.prefix_cache_size, self.prefill_chunk = prefix_cache_size, prefill_chunk
        self.jump_forward = jump_forward
        self._entries: OrderedDict[int, _Entry] = OrderedDict()  # LRU, most recent last
        self._next_key = 0
        self._lock = threading.Lock()
        self._grammars: dict[str, Any] = {}
        self._grammar_lock = threading.Lock()  # one compile per schema, even from several threads
        self._xgr_compiler: Any = None
        self.last_stats: GenerationStats | None = None

    # ------------------------------------------------------------------------------------------------ prompts
    def render(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None,
               assistant_prefix: str = "") -> str:
        """The prompt text: the model's chat template over `messages` (and `tools`), ready for the assistant."""
        text = self.tokenizer.apply_chat_template(messages, tools=tools or None, tokenize=False,
                                                  add_generation_prompt=True)
        return str(text) + assistant_prefix

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (special tokens in the text are recognised, none are added)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def clear_cache(self) -> None:
        """Forget every cached prefix KV state."""
        with self._lock:
            self._entries.clear()

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (getattr(self.model, "generation_config", None), self.model.config, self.tokenizer):
            value = getattr(source, "eos_token_id", None)
            ids.update(value if isinstance(value, list | tuple) else [] if value is None else [value])
        return {int(i) for i in ids}

    # ---------------------------------------------------------------------------------------- KV cache reuse
    def _forward(self, ids: list[int], cache: Any) -> torch.Tensor:
        """Run `ids` through the model on top of `cache` (extended in place); logits of the last position."""
        x = torch.tensor([ids], dtype=torch.long)  # (1, T)
        out = self.model(input_ids=x, use_cache=True, logits_to_keep=1, **{self._cache_kw: cache})
        return out.logits[0, -1].float()  # (V,)

    def _start(self, ids: list[int], stats: GenerationStats) -> tuple[Any, list[int], torch.Tensor]:
        """Prefill `ids`, reusing the cached state with the longest usable prefix; (cache, fed ids, logits).

        Reuse stops at a chunk boundary, and the rest is prefilled in the same aligned chunks as a cold
        prefill, so every position is computed with the same shapes either way: identical outputs.
        """
        from transformers import DynamicCache

        chunk, best, reuse = self.prefill_chunk, None, 0
        if self.prefix_cache_size > 0:
            for key, entry in self._entries.items():
                n = min(_common_prefix(entry.ids, ids), entry.exact, len(ids) - 1) // chunk * chunk
                if n > reuse:
                    best, reuse = key, n
        if best is not None:
            entry = self._entries[best]
            self._entries.move_to_end(best)
            cache = copy.deepcopy(entry.cache)  # the stored state stays intact for later turns
            cache.crop(reuse - cache.get_seq_length())  # negative: tokens to drop from the end
        else:
            cache = DynamicCache(config=self.model.config)
        t0 = time.perf_counter()
        for start in range(reuse, len(ids), chunk):
            logits = self._forward(ids[start:start + chunk], cache)
        stats.prompt_tokens, stats.cached_tokens = len(ids), reuse
        stats.prefill_tokens, stats.prefill_s = len(ids) - reuse, time.perf_counter() - t0
        return cache, list(ids), logits

    def _remember(self, fed: list[int], cache: Any, prompt_len: int) -> None:
        """Keep `cache` (holding exactly `fed`, of which `prompt_len` were prefilled) for later prompts."""
        if self.prefix_cache_size <= 0 or cache.get_seq_length() != len(fed):
            return
        ids, exact = tuple(fed), prompt_len // self.prefill_chunk * self.prefill_chunk
        for key in [k for k, e in self._entries.items() if ids[: len(e.ids)] == e.ids and e.exact <= exact]:
            del self._entries[key]  # never a longer usable match than the new entry
        self._entries[self._next_key] = _Entry(ids, cache, exact)
        self._next_key += 1
        while len(self._entries) > self.prefix_cache_size:
            self._entries.popitem(last=False)

    # ------------------------------------------------------------------------------------------- generation
    def stream(self, messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None,
               max_new_tokens: int = 160, temperature: float = 0.0, stop: list[str] | None = None,
               assistant_prefix: str = "", stats: GenerationStats | None = None) -> Iterator[str]:
        """Yield the reply to `messages` piece by piece (greedy unless `temperature` > 0).

        Pieces never split a multi-byte character; generation ends at an end-of-turn token, after
        `max_new_tokens`, or just before the first of the `stop` strings (which is not yielded).
        The model lock is held while the generator runs: exhaust or close it. Timings go to `stats` (when
        given) and `last_stats`.
        """
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens={max_new_tokens} must be at least 1")
        if temperature < 0:
            raise ValueError(f"temperature={temperature} must be >= 0 (0 = greedy)")
        stops = [s for s in (stop or []) if s]
        ids = self.encode(self.render(messages, tools=tools, assistant_prefix=assistant_prefix))
        with self._lock, torch.no_grad():
            stats, t0 = stats if stats is not None else GenerationStats(), time.perf_counter()
            cache, fed, logits = self._start(ids, stats)
            new: list[int] = []  # generated token ids
            emitted = 0  # characters of the decoded text already yielded
            t_first = 0.0
            try:
                while len(new) < max_new_tokens:
                    # pick the next token: argmax, or a sample from the tempered distribution
                    nxt = self._pick(logits, temperature)
                    if not new:
                        t_first = time.perf_counter()
                        stats.ttft_s = t_first - t0
                    if nxt in self.eos_ids:
                        break
                    new.append(nxt)
                    # decode everything so far; hold back an unfinished multi-byte character
                    text = self.tokenizer.decode(new, skip_special_tokens=True)
                    cut, done = _stop_cut(text, stops)
                    if cut > emitted and not text[:cut].endswith("\ufffd"):
                        yield text[emitted:cut]
                        emitted = cut
                    if done or len(new) == max_new_tokens:
                        break
                    # feed the token back: the cache grows by one position, logits for the next one
                    logits = self._forward([nxt], cache)
                    fed.append(nxt)
                # flush what was held back (a stop string's start that never completed, a lone byte)
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                cut = min([i for i in (text.find(s) for s in stops) if i >= 0], default=len(text))
                if cut > emitted:
                    yield text[emitted:cut]
            finally:
                self._finish(stats, t0, t_first, new, fed, cache, len(ids))

    def _finish(self, stats: GenerationStats, t0: float, t_first: float, new: list[int], fed: list[int],
                cache: Any, prompt_len: int) -> None:
        """Close a generation's stats and keep its KV cache for the next prompt with the same prefix."""
        stats.decode_tokens = len(new)
        stats.decode_s = time.perf_counter() - t_first if new else 0.0
        stats.total_s = time.perf_counter() - t0
        self.last_stats = stats
        self._remember(fed, cache, prompt_len)

    def generate(self, messages: list[dict[str, Any]], **kwargs: Any) -> str:
        """The whole reply as one string (see `stream` for the arguments)."""
        return "".join(self.stream(messages, **kwargs))

    def generate_json(self, messages: list[dict[str, Any]], schema: dict[str, Any], *,
                      tools: list[dict[str, Any]] | None = None, assistant_prefix: str = "",
                      max_new_tokens: int = 128, stats: GenerationStats | None = None) -> Any:
        """Greedy decoding constrained by xgrammar to the JSON `schema`; returns the parsed value.

        The prompt is `messages` (with `tools`) rendered by the chat template, then `assistant_prefix`
        (e.g. "<tool_call>\\n"). Raises GenerationError when the JSON is not complete after `max_new_tokens`.
        """
        import xgrammar as xgr

        matcher = xgr.GrammarMatcher(self._grammar(schema))
        bitmask = xgr.allocate_token_bitmask(1, self.vocab_size)  # (1, ceil(V/32)) int32
        ids = self.encode(self.render(messages, tools=tools, assistant_prefix=assistant_prefix))
        with self._lock, torch.no_grad():
            stats, t0 = stats if stats is not None else GenerationStats(), time.perf_counter()
            cache, fed, logits = self._start(ids, stats)
            new: list[int] = []
            t_first = 0.0
            try:
                while len(new) < max_new_tokens:
                    # mask every token the grammar forbids at this point, then take the argmax
                    matcher.fill_next_token_bitmask(bitmask)
                    masked = logits.unsqueeze(0)  # (1, V) float32
                    xgr.apply_token_bitmask_inplace(masked, bitmask)
                    nxt = int(masked[0].argmax())
                    if not new:
                        t_first = time.perf_counter()
                        stats.ttft_s = t_first - t0
                    # advance the grammar; a stop token means the JSON value is complete
                    if not matcher.accept_token(nxt):
                        raise GenerationError(f"the grammar rejected token {nxt}; this is a bug in the decoder")
                    if matcher.is_terminated():
                        break
                    new.append(nxt)
                    step = [nxt, *self._forced(matcher, max_new_tokens - len(new) - 1)]
                    new.extend(step[1:])
                    # feed the token (and the forced ones) back for the next position's logits
                    logits = self._forward(step, cache)
                    fed.extend(step)
            finally:
                self._finish(stats, t0, t_first, new, fed, cache, len(ids))
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        if not matcher.is_terminated():
            raise GenerationError(f"the JSON was not complete after max_new_tokens={max_new_tokens} tokens "
                                  f"({text[:80]!r}...); raise max_new_tokens or simplify the schema")
        try:
            return json.loads(text, strict=False)  # the grammar lets raw control characters into strings
        except json.JSONDecodeError as e:
            raise GenerationError(f"constrained output {text!r} does not parse: {e}") from e

    # ---------------------------------------------------------------------------------------------- helpers
    def _forced(self, matcher: Any, budget: int) -> list[int]:
        """Tokens of the text the grammar forces next, accepted into `matcher` (jump-forward decoding).

        The forced text's last token is left to the model, so the boundary with what follows is tokenized
        the way the model would write it.
        """
        if not self.jump_forward or budget <= 0:
            return []
        forced = matcher.find_jump_forward_string()
        if not forced:
            return []
        taken: list[int] = []
        for tok in self.encode(forced)[:-1][:budget]:
            if not matcher.accept_token(tok):
                break
            taken.append(tok)
        return taken

    @staticmethod
    def _pick(logits: torch.Tensor, temperature: float) -> int:
        if temperature <= 0:
            return int(logits.argmax())
        probs = torch.softmax(logits / temperature, dim=-1)
        return int(torch.multinomial(probs, 1))

    def _grammar(self, schema: dict[str, Any]) -> Any:
        """The compiled xgrammar grammar of `schema` (compiled once per distinct schema)."""
        import xgrammar as xgr

        key = json.dumps(schema, sort_keys=True, ensure_ascii=False)  # property order still matters: compile as given
        with self._grammar_lock:
            if key in self._grammars:
                return self._grammars[key]
            if self._xgr_compiler is None:
                info = xgr.TokenizerInfo.from_huggingface(self.tokenizer, vocab_size=self.vocab_size,
                                                          stop_token_ids=sorted(self.eos_ids))
                self._xgr_compiler = xgr.GrammarCompiler(info, max_threads=self.threads)
            try:
                # compact separators, as the chat template writes JSON; no free whitespace to wander into
                grammar = self._xgr_compiler.compile_json_schema(
                    json.dumps(schema, ensure_ascii=False), any_whitespace=False, separators=(", ", ": "),
                    strict_mode=True)
            except (RuntimeError, ValueError) as e:
                raise ValueError(f"xgrammar cannot compile the JSON schema {key[:200]}: {e}") from e
            self._grammars[key] = grammar
            return grammar


def _stop_cut(text: str, stops: list[str]) -> tuple[int, bool]:
    """How much of `text` is safe to show, and whether a stop string was reached.

    Text up to the first stop string is final; without one, hold back any tail that could still grow into a
    stop string.
    """
    if not stops:
        return len(text), False
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    if found:
        return min(found), True
    hold = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:k]):
                hold = max(hold, k)
                break
    return len(text) - hold, False
