"""Per-turn latency of the agent over the scripted dialogue suite, and the LLM's decode speed within it.

    python bench/turn_latency.py                       # the whole suite with the bundled LLM (~20 min on 2 cores)
    python bench/turn_latency.py --only search_zh --only references
    python bench/turn_latency.py --no-llm              # fixed sentences: the cost of everything but the LLM

For every turn of `tests/dialogues/` (the same agent, store and catalog as `daogou eval dialogues`) it records
the time to the first product card, to the first token of the reply and to the full reply, and prints
p50/p95/mean per timing key, per tool, against the issue's targets (first card <= 1.5 s, first token <= 2 s,
full reply <= 8 s at p50). Every LLM generation inside the turns is timed too (prefill/decode tokens and
seconds), so decode tok/s is measured on the real prompts, not a synthetic one. Figures depend on what else
runs on the CPU: the machine facts and load average are printed with them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (  # noqa: E402
    ROOT,
    apply_env,
    force_offline,
    format_facts,
    machine_facts,
    peak_rss_mib,
    summarize_ms,
    table,
)

TARGETS_MS = {"first_card": 1500.0, "first_token": 2000.0, "total": 8000.0}


class TimedWriter:
    """Wraps the model and keeps each generation's stats: replies (`stream`) and turn readings (`generate_json`)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.stats: list[dict[str, float]] = []  # replies
        self.json_stats: list[dict[str, float]] = []  # constrained readings

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # anything else the agent asks of the model

    def stream(self, messages: list[dict[str, str]], **kwargs: Any) -> Iterator[str]:
        """The inner writer's stream; its stats are recorded when it ends."""
        yield from self.inner.stream(messages, **kwargs)
        last = getattr(self.inner, "last_stats", None)
        if last is not None:
            self.stats.append(last.as_dict())

    def generate_json(self, messages: list[dict[str, str]], schema: dict[str, Any], **kwargs: Any) -> Any:
        """The inner writer's constrained reading; its stats are recorded."""
        try:
            return self.inner.generate_json(messages, schema, **kwargs)
        finally:
            last = getattr(self.inner, "last_stats", None)
            if last is not None:
                self.json_stats.append(last.as_dict())


def _llm_summary(stats: list[dict[str, float]]) -> dict[str, Any]:
    if not stats:
        return {"generations": 0}
    decode_tokens = sum(s["decode_tokens"] for s in stats)
    decode_s = sum(s["decode_s"] for s in stats)
    prefill_tokens = sum(s["prefill_tokens"] for s in stats)
    prefill_s = sum(s["prefill_s"] for s in stats)
    return {"generations": len(stats), "decode_tokens": int(decode_tokens),
            "decode_tok_s": round(decode_tokens / decode_s, 2) if decode_s else 0.0,
            "prefill_tokens": int(prefill_tokens),
            "prefill_tok_s": round(prefill_tokens / prefill_s, 1) if prefill_s else 0.0,
            "cached_share": round(sum(s["cached_tokens"] for s in stats)
                                  / max(1, sum(s["prompt_tokens"] for s in stats)), 3),
            "ttft_ms": summarize_ms([s["ttft_s"] * 1000 for s in stats])}


def main() -> None:
    """Run the suite, print latency per key and per tool, and the LLM's speed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", type=Path, default=ROOT / "tests" / "dialogues")
    ap.add_argument("--only", action="append", help="dialogue ids, tags or groups (repeatable)")
    ap.add_argument("--no-llm", action="store_true", help="fixed sentences only")
    ap.add_argument("--env", action="append", help="KEY=VALUE set before models load (repeatable)")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args()
    apply_env(args.env)
    force_offline()

    from daogou.assistant import make_writer
    from daogou.evals.agent_suite import run_dialogue_eval
    from daogou.settings import Settings

    facts = machine_facts()
    settings = Settings.from_env()
    if args.no_llm:
        settings = settings.with_(llm="none")
    inner = make_writer(settings)
    writer = TimedWriter(inner) if inner is not None else None
    per_tool: dict[str, list[dict[str, float]]] = {}

    def on_turn(dialogue_id: str, result: Any) -> None:
        print(f"  {dialogue_id}", file=sys.stderr, flush=True)

    report, latency = run_dialogue_eval(settings, args.suite, writer=writer, only=args.only, on_turn=on_turn,
                                        timings_by_tool=per_tool)
    out = {"machine": facts, "llm": settings.llm if inner is not None else "none",
           "turns": report.turn_rate().total, "pass_rate": round(report.turn_pass_rate, 3),
           "latency_ms": latency,
           "per_tool_total_ms": {tool: summarize_ms([t["total"] for t in ts]) for tool, ts in sorted(per_tool.items())},
           "targets_p50_ms": TARGETS_MS,
           "llm_speed": _llm_summary(writer.stats if writer else []),
           "llm_readings": _llm_summary(writer.json_stats if writer else []),
           "peak_rss_mib": peak_rss_mib(),
           "failed_turns": [f"{d['id']} t{t['turn']}: " + "; ".join(str(f.get("reason", f)) for f in t["failures"])
                            for d in report.to_dict()["results"] for t in d["turns"] if not t["passed"]]}
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return
    print(format_facts(facts))
    print(f"turns: {out['turns']}  pass rate: {out['pass_rate']:.1%}  llm: {out['llm']}  "
          f"peak RSS {out['peak_rss_mib']} MiB")
    rows = [{"key": k, **v, "target_p50": TARGETS_MS.get(k, ""),
             "met": ("yes" if v["p50"] <= TARGETS_MS[k] else "no") if k in TARGETS_MS else ""}
            for k, v in latency.items()]
    print(table(rows, [("key", "timing"), ("n", "n"), ("p50", "p50 ms"), ("p95", "p95 ms"), ("mean", "mean ms"),
                       ("target_p50", "target p50"), ("met", "met")]))
    rows = [{"tool": tool, **v} for tool, v in out["per_tool_total_ms"].items()]
    print(table(rows, [("tool", "full reply by tool"), ("n", "n"), ("p50", "p50 ms"), ("p95", "p95 ms"),
                       ("max", "max ms")]))
    for line in out["failed_turns"]:
        print(f"failed: {line}")
    speed = out["llm_speed"]
    if speed["generations"]:
        print(f"LLM inside the turns: {speed['generations']} generations, decode {speed['decode_tok_s']} tok/s "
              f"over {speed['decode_tokens']} tokens, prefill {speed['prefill_tok_s']} tok/s, "
              f"{speed['cached_share']:.0%} of prompt tokens from the prefix cache, "
              f"TTFT p50 {speed['ttft_ms'].get('p50')} ms")
    readings = out["llm_readings"]
    if readings["generations"]:
        print(f"turn readings: {readings['generations']} constrained generations, "
              f"{readings['cached_share']:.0%} of prompt tokens from the prefix cache, "
              f"p50 {readings['ttft_ms'].get('p50')} ms to the first token")


if __name__ == "__main__":
    main()
