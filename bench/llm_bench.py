"""Speed and tool-choice quality of the chat engine (llama.cpp) against the transformers bf16 reference, one run.

    python bench/llm_bench.py --json                  # 0.5B: engine, then the bf16 reference on the same prompts
    python bench/llm_bench.py --model 1.5b --json     # the 1.5B (needs the llm-1-5b extra; its bf16 copy is 3.5 GB)
    python bench/llm_bench.py --concurrency           # also: 1 slot + queue against 2 slots, 2 and 4 shoppers
    python bench/llm_bench.py --no-reference          # the engine alone

The prompt is the agent's real shape: system prompt + the seven daogou tool schemas (~1,200 tokens) + one user
turn. "cold" prefills all of it (a fresh prefix); "prefix" is the next turn, where the KV of the earlier turns
is reused and only the new suffix is prefilled (`ttft_prefix_ms`). `decode_tok_s` is decoded after that ~2,900-token
tool prompt; `decode_tok_s_short` after a short prompt without tools (a reply's shape): llama.cpp's decode slows
as the context grows (0.5B on 2 cores: ~58 tok/s after 60 tokens, ~49 after 580, ~39 after 2,200).
The tool decisions run `LocalChatModel.decide` (grammar-constrained JSON over the tool schemas) on ten labelled
requests (zh/en) with each backend and count the right tool and the right key argument; `decision_ms_p50` is the
engine's median decision after the first. `rss_mib` is the process's resident memory with the engine loaded and
used, before the reference model loads. Figures depend on what else runs on the CPU: the machine facts and load
average are printed with them (`load_average`); take final figures on a quiet machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import force_offline, format_facts, load_average, machine_facts, rss_mib  # noqa: E402

SYSTEM = "你是本店的导购助手，帮顾客找到合适的商品。回答简短，使用顾客的语言。"
LONG_ASK = "请详细比较一下跑步鞋和篮球鞋的区别，从缓震、支撑、鞋底、重量和适用场景几个方面各写一段。"
NEXT_ASK = "那徒步鞋呢？"

# (request, expected tool or None for "respond", expected key arguments)
CASES: list[tuple[str, str | None, dict[str, Any]]] = [
    ("帮我找300元以内的红色连衣裙", "search_catalog", {"price_max": 300}),
    ("I need running shoes under 500 yuan", "search_catalog", {"price_max": 500}),
    ("和P1023类似的还有吗", "similar_products", {"product_id": "P1023"}),
    ("比较一下P1001和P1002", "compare_products", {"product_ids": ["P1001", "P1002"]}),
    ("P1001防水吗？", "answer_about_product", {"product_id": "P1001"}),
    ("帮P1005写一段活泼的文案", "write_copy", {"product_id": "P1005"}),
    ("猜你喜欢，给我推荐点东西", "recommend_for_user", {}),
    ("Show me the details of P1003", "product_details", {"product_ids": ["P1003"]}),
    ("你好", None, {}),
    ("谢谢，再见", None, {}),
]


def _tool_schemas() -> list[dict[str, Any]]:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    from daogou.llm.chat_model import compact_schema
    from daogou.tools.langchain_tools import ToolContext, build_tools

    tools = build_tools(ToolContext(index=None, generate=str))  # type: ignore[arg-type]  # schemas only
    return [compact_schema(convert_to_openai_tool(t)) for t in tools]


def _speed(llm: Any, tools: list[dict[str, Any]], new_tokens: int) -> dict[str, Any]:
    """Cold prefill + decode on a fresh prefix, then the next turn with the prefix reused."""
    from daogou.llm.generation import GenerationStats

    system = f"{SYSTEM}（会话 {uuid.uuid4().hex[:8]}）"  # a prefix no cache holds: the cold figure is cold
    chat = [{"role": "system", "content": system}, {"role": "user", "content": LONG_ASK}]
    if hasattr(llm, "clear_cache"):
        llm.clear_cache()
    cold = GenerationStats()
    text = llm.generate(chat, tools=tools, max_new_tokens=new_tokens, stats=cold)
    warm = GenerationStats()
    nxt = chat + [{"role": "assistant", "content": text}, {"role": "user", "content": NEXT_ASK}]
    llm.generate(nxt, tools=tools, max_new_tokens=4, stats=warm)
    short = GenerationStats()  # a reply's shape: a short prompt, no tool schemas (decode slows as the context grows)
    llm.generate([{"role": "system", "content": SYSTEM}, {"role": "user", "content": LONG_ASK}],
                 max_new_tokens=new_tokens, stats=short)
    return {"short_prompt_tokens": short.prompt_tokens, "decode_tok_s_short": round(short.decode_tok_s, 1),
            "prompt_tokens": cold.prompt_tokens, "prefill_tok_s": round(cold.prefill_tok_s, 1),
            "ttft_cold_ms": round(cold.ttft_s * 1000), "decode_tokens": cold.decode_tokens,
            "decode_tok_s": round(cold.decode_tok_s, 1), "prefix_prompt_tokens": warm.prompt_tokens,
            "prefix_prefilled_tokens": warm.prefill_tokens, "ttft_prefix_ms": round(warm.ttft_s * 1000)}


def _decisions(llm: Any, tools: list[dict[str, Any]], verbose: bool) -> dict[str, Any]:
    from daogou.llm.chat_model import LocalChatModel

    model = LocalChatModel(llm=llm)
    seconds, right_tool, right_args = [], 0, 0
    for text, want, want_args in CASES:
        t0 = time.perf_counter()
        call = model.decide([{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}], tools)
        seconds.append(time.perf_counter() - t0)
        name = call["name"] if call else None
        ok_tool = name == want
        ok_args = ok_tool and all(call is None or call["args"].get(k) == v for k, v in want_args.items())
        right_tool += ok_tool
        right_args += ok_args
        if verbose:
            got = f"{name} {json.dumps(call['args'], ensure_ascii=False)}" if call else "respond"
            print(f"    {'✓' if ok_tool else '✗'}{'✓' if ok_args else '✗'} {seconds[-1]:5.2f}s  {text}  ->  {got}",
                  file=sys.stderr)
    return {"right_tool": right_tool, "right_args": right_args, "n": len(CASES),
            "first_ms": round(seconds[0] * 1000), "p50_ms": round(statistics.median(seconds[1:]) * 1000)}


def _concurrency(gguf: Path, shoppers: int, slots: int, new_tokens: int) -> dict[str, Any]:
    """`shoppers` requests at once on an engine with `slots`: time to first token and to the end of each."""
    from daogou.llm.generation import GenerationStats
    from daogou.llm.llama_engine import LlamaEngine

    engine = LlamaEngine(gguf, slots=slots)
    try:
        asks = ["推荐一双跑步鞋", "I want a red dress", "有防水的外套吗", "Gift ideas for my dad",
                "便宜的耳机", "Black sneakers please", "儿童雨靴", "A laptop bag"][:shoppers]
        results: list[dict[str, float]] = []
        lock = threading.Lock()

        def shopper(ask: str) -> None:
            chat = [{"role": "system", "content": f"{SYSTEM} {uuid.uuid4().hex[:6]}"}, {"role": "user", "content": ask}]
            s, t0 = GenerationStats(), time.perf_counter()
            engine.generate(chat, max_new_tokens=new_tokens, stats=s)
            with lock:
                results.append({"ttft_ms": s.ttft_s * 1000, "done_ms": (time.perf_counter() - t0) * 1000,
                                "tokens": s.decode_tokens})

        t0 = time.perf_counter()
        threads = [threading.Thread(target=shopper, args=(a,)) for a in asks]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        engine.close()
    return {"slots": slots, "shoppers": shoppers,
            "ttft_ms_p50": round(statistics.median(r["ttft_ms"] for r in results)),
            "ttft_ms_max": round(max(r["ttft_ms"] for r in results)),
            "done_ms_p50": round(statistics.median(r["done_ms"] for r in results)),
            "done_ms_max": round(max(r["done_ms"] for r in results)),
            "tok_s_total": round(sum(r["tokens"] for r in results) / wall, 1)}


def main() -> None:
    """Measure the engine, then the reference, and print one summary (or one JSON object with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("0.5b", "1.5b"), default="0.5b", help="bundled model (DAOGOU_LLM_SIZE)")
    parser.add_argument("--home", type=Path, default=None, help="DAOGOU_HOME holding the assembled models")
    parser.add_argument("--new-tokens", type=int, default=100, help="tokens to decode in the speed run")
    parser.add_argument("--no-reference", action="store_true", help="skip the transformers bf16 reference")
    parser.add_argument("--concurrency", action="store_true", help="also compare 1 slot + queue with 2 slots")
    parser.add_argument("--quiet", dest="verbose", action="store_false", help="no per-request lines")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object at the end")
    args = parser.parse_args()
    force_offline()
    from daogou.llm.llama_engine import LlamaEngine
    from daogou.llm.provision import llm_gguf_path
    from daogou.settings import Settings

    facts = machine_facts()
    print(format_facts(facts), file=sys.stderr)
    settings = Settings.from_env(llm_size=args.model, **({"home": args.home} if args.home else {}))
    gguf = llm_gguf_path(settings)
    tools = _tool_schemas()
    out: dict[str, Any] = {"engine": "llama.cpp (xllamacpp)", "model": gguf.name, "load_average": load_average()}
    rss_before = rss_mib()
    t0 = time.perf_counter()
    engine = LlamaEngine(gguf, threads=settings.llm_threads)
    out.update(threads=engine.threads, load_s=round(time.perf_counter() - t0, 2))
    print(f"== engine: {gguf.name}, {engine.threads} threads, loaded in {out['load_s']} s", file=sys.stderr)
    out.update(_speed(engine, tools, args.new_tokens))
    dec = _decisions(engine, tools, args.verbose)
    out.update(decision_ms_p50=dec["p50_ms"], decision_ms_first=dec["first_ms"],
               tool_accuracy={k: dec[k] for k in ("right_tool", "right_args", "n")})
    out.update(rss_mib=round(rss_mib()), rss_engine_mib=round(rss_mib() - rss_before))
    engine.close()
    del engine
    gc.collect()
    if args.concurrency:
        out["concurrency"] = [_concurrency(gguf, n, slots, 48) for n in (2, 4) for slots in (1, 2)]
    if not args.no_reference:
        from daogou.llm.provision import llm_transformers_dir
        from daogou.llm.transformers_engine import LocalLLM

        ref = LocalLLM(llm_transformers_dir(settings), threads=settings.threads, settings=settings)
        print(f"== reference: transformers {ref.dtype}, {settings.threads} torch threads", file=sys.stderr)
        out["reference_dtype"] = ref.dtype  # bfloat16, or float32 on a CPU without bf16 instructions (torch_dtype.py)
        speed = _speed(ref, tools, args.new_tokens)
        rdec = _decisions(ref, tools, args.verbose)
        out.update(reference_decode_tok_s=speed["decode_tok_s"], reference_prefill_tok_s=speed["prefill_tok_s"],
                   reference_ttft_prefix_ms=speed["ttft_prefix_ms"], reference_decision_ms_p50=rdec["p50_ms"],
                   reference_tool_accuracy={k: rdec[k] for k in ("right_tool", "right_args", "n")})
        out["reference_decode_tok_s_short"] = speed["decode_tok_s_short"]
        out["decode_speedup"] = round(out["decode_tok_s"] / max(0.01, speed["decode_tok_s"]), 1)
        out["decode_speedup_short"] = round(out["decode_tok_s_short"] / max(0.01, speed["decode_tok_s_short"]), 1)
    out["load_average_end"] = load_average()
    out["machine"] = facts
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return
    for key, value in out.items():
        if key != "machine":
            print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
