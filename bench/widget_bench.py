"""Widget latency as a shopper sees it: time to first product card, first words and last words in Chromium.

Each query runs in a fresh browser context (a new shopper) against a running `daogou serve`; times are taken
from pressing Enter to the moment the cards / the first words / the last change of the words appear in the DOM
(polled every 20 ms), and to the end of the turn (Gradio's progress tracker on the chat is hidden again).
The first query also pays the model's first-call warm-up; it is reported and left out.

    daogou serve --port 7860 &        # real model and catalog, as configured
    python bench/widget_bench.py [--url http://127.0.0.1:7860/] [--repeat 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

from common import format_facts, machine_facts, summarize_ms

from tests.integration.test_widget_browser import ARGS, SNAPSHOT, _busy  # the browser tests' flags and probes

KEYS = ("first_card", "first_words", "last_words", "done")
QUERIES = ["红色连衣裙 300元以内", "给狗狗买的狗粮", "无线耳机 500元以内", "白色马克杯", "黑色跑步鞋 42码"]


def one_turn(browser, url: str, query: str) -> dict[str, float | None]:
    """Times (ms) to first card, first words, last words and the end of the turn, for one query in a new context."""
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(url)
    box = page.locator("#dg-input textarea")
    box.wait_for(timeout=120_000)
    box.fill(query)
    t0 = time.perf_counter()
    box.press("Enter")
    first_card = first_words = last_words = done = None
    last_len = 0
    while done is None and time.perf_counter() - t0 < 300:
        cards, n = page.evaluate(SNAPSHOT)
        now = (time.perf_counter() - t0) * 1000
        if cards and first_card is None:
            first_card = now
        if n and first_words is None:
            first_words = now
        if n != last_len:
            last_len, last_words = n, now
        if first_words is not None and not _busy(page):
            done = now
        time.sleep(0.02)
    ctx.close()
    return {"first_card": first_card, "first_words": first_words, "last_words": last_words, "done": done}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:7860/")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    facts = machine_facts()
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        warm = one_turn(browser, args.url, QUERIES[0])
        for _ in range(args.repeat):
            for q in QUERIES:
                rows.append({"query": q, **one_turn(browser, args.url, q)})
        browser.close()
    summary = {k: summarize_ms([r[k] for r in rows if r[k] is not None]) for k in KEYS}
    if args.json:
        print(json.dumps({"machine": facts, "warm_up": warm, "turns": rows, "summary": summary}, ensure_ascii=False))
        return
    print(format_facts(facts))
    print(f"warm-up turn ({QUERIES[0]}): " + ", ".join(f"{k} {v:.0f} ms" for k, v in warm.items() if v))
    for r in rows:
        print(f"  {r['query']:<16} " + "  ".join(f"{k} {r[k]:.0f} ms" if r[k] is not None else f"{k} -"
                                                   for k in KEYS))
    for k, s in summary.items():
        print(f"{k:<12} p50 {s.get('p50', 0):>7.0f} ms  p95 {s.get('p95', 0):>7.0f} ms  n {s['n']}")


if __name__ == "__main__":
    main()
