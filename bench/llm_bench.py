"""Speed and tool-choice quality of the local chat LLM: prefill/decode tok/s, TTFT with and without the prefix cache.

    python bench/llm_bench.py                 # bf16
    python bench/llm_bench.py --int8          # bf16, then dynamic int8 Linear layers (speed AND quality)
    python bench/llm_bench.py --model-path DIR --threads 4

The prompt is the agent's real shape: system prompt + the seven daogou tool schemas (~1,200 tokens) + one
user turn. "cold" prefills all of it; "warm" is the next turn, where the prefix KV cache leaves only the new
suffix to prefill. The tool-decision rows run LocalChatModel.bind_tools(...).invoke on ten labelled requests
(zh/en) and count the right tool and the right key argument. Figures depend on what else runs on the CPU:
the machine facts and load average are printed with them.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import force_offline, format_facts, load_average, machine_facts, peak_rss_mib  # noqa: E402

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


def _tools() -> list[Any]:
    from daogou.tools.langchain_tools import ToolContext, build_tools

    return build_tools(ToolContext(index=None, generate=str))  # type: ignore[arg-type]  # schemas only


def _speed(llm: Any, tools: list[dict[str, Any]], new_tokens: int) -> dict[str, float]:
    chat = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": LONG_ASK}]
    llm.clear_cache()
    text = llm.generate(chat, tools=tools, max_new_tokens=new_tokens)
    cold = llm.last_stats
    nxt = chat + [{"role": "assistant", "content": text}, {"role": "user", "content": NEXT_ASK}]
    llm.generate(nxt, tools=tools, max_new_tokens=1)
    warm = llm.last_stats
    return {"prompt_tokens": cold.prompt_tokens, "prefill_tok_s": cold.prefill_tok_s, "ttft_cold_s": cold.ttft_s,
            "decode_tokens": cold.decode_tokens, "decode_tok_s": cold.decode_tok_s,
            "warm_prompt_tokens": warm.prompt_tokens, "warm_prefilled": warm.prefill_tokens,
            "ttft_warm_s": warm.ttft_s}


def _decisions(llm: Any, tools: list[Any], verbose: bool) -> dict[str, Any]:
    from langchain_core.messages import HumanMessage, SystemMessage

    from daogou.llm.chat_model import LocalChatModel

    model = LocalChatModel(llm=llm).bind_tools(tools)
    llm.clear_cache()
    seconds, right_tool, right_args = [], 0, 0
    for text, want, want_args in CASES:
        t0 = time.perf_counter()
        out = model.invoke([SystemMessage(SYSTEM), HumanMessage(text)], max_tokens=1)  # 1 token if "respond"
        seconds.append(time.perf_counter() - t0)
        call = out.tool_calls[0] if out.tool_calls else None
        name = call["name"] if call else None
        ok_tool = name == want
        ok_args = ok_tool and all(call is None or call["args"].get(k) == v for k, v in want_args.items())
        right_tool += ok_tool
        right_args += ok_args
        if verbose:
            got = f"{name} {json.dumps(call['args'], ensure_ascii=False)}" if call else "respond"
            print(f"    {'✓' if ok_tool else '✗'}{'✓' if ok_args else '✗'} {seconds[-1]:5.1f}s  {text}  ->  {got}")
    return {"right_tool": right_tool, "right_args": right_args, "n": len(CASES), "first_s": seconds[0],
            "median_s": statistics.median(seconds[1:])}


def run(dtype: str, args: argparse.Namespace) -> dict[str, Any]:
    """Load the model in `dtype` and measure it."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    from daogou.llm.chat_model import compact_schema
    from daogou.llm.transformers_engine import LocalLLM
    from daogou.settings import Settings

    t0 = time.perf_counter()
    settings = Settings.from_env(**({"home": args.home} if args.home else {}))
    llm = LocalLLM(args.model_path, threads=args.threads, settings=settings, dtype=dtype)
    load_s = time.perf_counter() - t0
    tools = _tools()
    schemas = [compact_schema(convert_to_openai_tool(t)) for t in tools]
    print(f"\n== {dtype}: loaded in {load_s:.1f} s, peak RSS {peak_rss_mib():.0f} MiB, load avg {load_average()}")
    speed = _speed(llm, schemas, args.new_tokens)
    print(f"  prompt {speed['prompt_tokens']} tokens: prefill {speed['prefill_tok_s']:.0f} tok/s, "
          f"TTFT cold {speed['ttft_cold_s']:.2f} s; decode {speed['decode_tok_s']:.1f} tok/s "
          f"({speed['decode_tokens']} tokens)")
    print(f"  next turn ({speed['warm_prompt_tokens']} tokens, {speed['warm_prefilled']} prefilled): "
          f"TTFT warm {speed['ttft_warm_s']:.2f} s")
    if args.speed_only:
        return {"dtype": dtype, "load_s": load_s, **speed}
    dec = _decisions(llm, tools, args.verbose)
    print(f"  tool decision: first {dec['first_s']:.1f} s (cold prefix), then median {dec['median_s']:.1f} s; "
          f"right tool {dec['right_tool']}/{dec['n']}, right key arguments {dec['right_args']}/{dec['n']}")
    del llm
    gc.collect()
    return {"dtype": dtype, "load_s": load_s, **speed, **{f"decision_{k}": v for k, v in dec.items()}}


def main() -> None:
    """Parse the flags, print the machine, run bf16 (and int8), print a summary line per dtype."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--int8", action="store_true", help="also measure torch dynamic int8 Linear layers")
    parser.add_argument("--model-path", type=Path, default=None, help="transformers model folder (default: bundled)")
    parser.add_argument("--home", type=Path, default=None, help="DAOGOU_HOME holding the converted model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=100, help="tokens to decode in the speed run")
    parser.add_argument("--speed-only", action="store_true", help="skip the ten tool decisions")
    parser.add_argument("--quiet", dest="verbose", action="store_false", help="no per-request lines")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line at the end")
    args = parser.parse_args()
    force_offline()
    print(format_facts(machine_facts()))
    results = [run("bfloat16", args)]
    if args.int8:
        results.append(run("int8", args))
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
