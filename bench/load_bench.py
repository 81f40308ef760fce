"""Load on one `daogou serve`: N concurrent API shoppers × M turns; errors, cross-talk, latency, server RSS.

Each shopper is a `gradio_client.Client` in its own thread that starts its own session with `predict(text)` and
continues it for M turns (its own opening search, then follow-ups: cheaper, the first one, similar, another
colour...). Per turn: time to the first streamed value with product cards ("first card") and to the last value
("full reply"). Cross-talk is checked three ways: every answer carries the shopper's own session id, no two
shoppers were given the same session, and, at the end, each session in the server's sessions database holds
exactly that shopper's messages in order. The server's RSS (with its children) is read after one warm-up turn (which
loads the model) and again after the load.

Without --url the bench starts `daogou serve` itself on a free port over $DAOGOU_HOME (or --home) with the
per-client rate limit off (every shopper comes from 127.0.0.1, so a per-address limit would measure the limiter,
not the server); `--env KEY=VALUE` adds settings for that server. Figures need a quiet CPU: on a shared one they
measure the neighbours.

    python bench/load_bench.py [--shoppers 20] [--turns 10] [--home DIR | --url URL --home DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import ROOT, format_facts, log, machine_facts, summarize_ms

OPENERS = ["红色连衣裙 300元以内", "给狗狗买的狗粮", "无线耳机 500元以内", "白色马克杯", "黑色跑步鞋 42码",
           "wireless headphones under 500", "保温杯", "蓝色牛仔裤", "咖啡豆", "儿童绘本", "瑜伽垫", "双肩背包",
           "running shoes", "绿茶 200元以内", "台灯", "手机壳", "毛衣 女", "床上四件套", "a red dress", "洗面奶"]
FOLLOW_UPS = ["便宜点的", "第一个怎么样？", "找和第一个类似的", "有没有别的颜色", "第二个有货吗？", "贵一点的也行",
              "比较一下第一个和第二个", "给第一个写一段文案", "还有别的吗"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen | None, timeout: float) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"daogou serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"{url} did not answer in {timeout:.0f} s")


def _rss_mib(pid: int | None) -> float | None:
    if pid is None:
        return None
    import psutil

    try:
        proc = psutil.Process(pid)
        return round(sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20, 1)
    except psutil.Error:
        return None


def _server_pid(port: int) -> int | None:
    """The pid listening on `port` on this machine (to read the RSS of a server the bench did not start)."""
    import psutil

    for conn in psutil.net_connections(kind="tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            return conn.pid
    return None


class Shopper(threading.Thread):
    """One shopper's session of `turns` turns; records timings, errors and what the server answered."""

    def __init__(self, n: int, url: str, turns: int, headers: dict[str, str], start: threading.Event) -> None:
        super().__init__(name=f"shopper-{n}", daemon=True)
        self.n, self.url, self.turns, self.headers, self.start_gate = n, url, turns, headers, start
        self.sent: list[str] = []
        self.session_ids: list[str | None] = []
        self.first_card_ms: list[float] = []
        self.full_ms: list[float] = []
        self.by_text: list[tuple[str, float | None, float]] = []  # (message, first card ms, full reply ms)
        self.errors: list[str] = []
        self.busy = 0

    def run(self) -> None:
        from gradio_client import Client

        try:
            client = Client(self.url, headers=self.headers, verbose=False)
        except Exception as e:  # noqa: BLE001 - a bench reports every failure and goes on
            self.errors.append(f"connect: {type(e).__name__}: {e}")
            return
        self.start_gate.wait()
        sid = ""
        for t in range(self.turns):
            text = OPENERS[self.n % len(OPENERS)] if t == 0 else FOLLOW_UPS[(t - 1 + self.n) % len(FOLLOW_UPS)]
            t0 = time.perf_counter()
            first_card = None
            try:
                job = client.submit(text, None, sid, api_name="/ask")
                for partial in job:
                    if first_card is None and partial.get("products"):
                        first_card = (time.perf_counter() - t0) * 1000
                final = job.result()
            except Exception as e:  # noqa: BLE001
                self.errors.append(f"turn {t}: {type(e).__name__}: {e}")
                continue
            full = (time.perf_counter() - t0) * 1000
            if final.get("busy"):
                self.busy += 1
            if "error" in final:
                self.errors.append(f"turn {t}: {final['error']}")
                continue
            self.sent.append(text)
            self.session_ids.append(final.get("session_id"))
            sid = sid or final.get("session_id") or ""
            self.full_ms.append(full)
            self.by_text.append((text, first_card, full))
            if first_card is not None:
                self.first_card_ms.append(first_card)
        client.close()


def _by_message(shoppers: list[Shopper]) -> dict[str, dict[str, Any]]:
    """p50 first card and full reply per message (openers pooled): which kinds of turn wait, and for what."""
    groups: dict[str, list[tuple[float | None, float]]] = {}
    for s in shoppers:
        for text, first, full in s.by_text:
            groups.setdefault("(opening search)" if text in OPENERS else text, []).append((first, full))
    return {k: {"n": len(v), "first_card_p50": summarize_ms([f for f, _ in v if f is not None]).get("p50"),
                "full_p50": summarize_ms([x for _, x in v]).get("p50")} for k, v in sorted(groups.items())}


def cross_talk(shoppers: list[Shopper], sessions_db: Path | None) -> dict[str, Any]:
    """Answers with another session's id, sessions shared between shoppers, and stored histories that differ."""
    foreign = sum(1 for s in shoppers for sid in s.session_ids if sid != (s.session_ids or [None])[0])
    firsts = [s.session_ids[0] for s in shoppers if s.session_ids]
    shared = len(firsts) - len(set(firsts))
    stored_mismatch = None
    if sessions_db is not None and sessions_db.exists():
        conn = sqlite3.connect(f"file:{sessions_db}?mode=ro", uri=True)
        try:
            stored_mismatch = 0
            for s in shoppers:
                if not s.session_ids:
                    continue
                rows = conn.execute("SELECT content FROM messages WHERE session_id = ? AND role = 'user' ORDER BY id",
                                    (s.session_ids[0],)).fetchall()
                stored_mismatch += [r[0] for r in rows] != s.sent
        finally:
            conn.close()
    return {"foreign_session_ids": foreign, "shared_sessions": shared, "stored_history_mismatches": stored_mismatch}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shoppers", type=int, default=20)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--url", help="a running daogou serve (default: start one)")
    ap.add_argument("--home", type=Path, default=None, help="DAOGOU_HOME of the server (its sessions database is "
                    "read for the cross-talk check; default $DAOGOU_HOME)")
    ap.add_argument("--api-key", default=os.environ.get("DAOGOU_API_KEY"))
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server the bench starts")
    ap.add_argument("--no-llm", action="store_true", help="start the server with --no-llm")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    home = args.home or (Path(os.environ["DAOGOU_HOME"]) if os.environ.get("DAOGOU_HOME") else None)
    proc = None
    if args.url:
        url = args.url.rstrip("/") + "/"
        port = int(url.split(":")[-1].split("/")[0]) if url.count(":") > 1 else 80
        pid = _server_pid(port)
    else:
        port = _free_port()
        env = {**os.environ, "DAOGOU_UI_RATE_PER_MIN": "0", "OMP_WAIT_POLICY": "PASSIVE", "PYTHONUNBUFFERED": "1"}
        if home is not None:
            env["DAOGOU_HOME"] = str(home)
        env.update(dict(pair.split("=", 1) for pair in args.env))
        cmd = [sys.executable, "-m", "daogou", "serve", "--port", str(port)] + (["--no-llm"] if args.no_llm else [])
        log(f"starting {' '.join(cmd[2:])}")
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url, pid = f"http://127.0.0.1:{port}/", proc.pid
    try:
        _wait_ready(url, proc, 600)
        headers = {"X-Api-Key": args.api_key} if args.api_key else {}
        from gradio_client import Client

        warm = Client(url, headers=headers, verbose=False)  # the first turns load the models: not in the figures
        sid = warm.predict("红色连衣裙 300元以内", api_name="/ask")["session_id"]
        for text in ("第一个怎么样？", "给第一个写一段文案"):
            warm.predict(text, None, sid, api_name="/ask")
        warm.close()
        rss_before = _rss_mib(pid)
        go = threading.Event()
        shoppers = [Shopper(n, url, args.turns, headers, go) for n in range(args.shoppers)]
        for s in shoppers:
            s.start()
        time.sleep(2)  # let every client fetch the config first
        log(f"{args.shoppers} shoppers x {args.turns} turns against {url}")
        t0 = time.perf_counter()
        go.set()
        for s in shoppers:
            s.join()
        wall = time.perf_counter() - t0
        rss_after = _rss_mib(pid)
        result = {
            "shoppers": args.shoppers, "turns_each": args.turns,
            "turns_ok": sum(len(s.full_ms) for s in shoppers),
            "errors": sum(len(s.errors) for s in shoppers), "busy": sum(s.busy for s in shoppers),
            "error_examples": [e for s in shoppers for e in s.errors][:5],
            "cross_talk": cross_talk(shoppers, home / "sessions.sqlite3" if home else None),
            "first_card_ms": summarize_ms([v for s in shoppers for v in s.first_card_ms]),
            "full_reply_ms": summarize_ms([v for s in shoppers for v in s.full_ms]),
            "by_message": _by_message(shoppers),
            "wall_s": round(wall, 1), "server_rss_mib": {"before": rss_before, "after": rss_after},
            "machine": machine_facts(),
        }
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    ct = result["cross_talk"]
    print(format_facts(result["machine"]))
    print(f"{result['shoppers']} shoppers x {result['turns_each']} turns: {result['turns_ok']} ok, "
          f"{result['errors']} errors ({result['busy']} busy), in {result['wall_s']} s")
    stored = ct["stored_history_mismatches"]
    print(f"cross-talk: {ct['foreign_session_ids']} foreign session ids, {ct['shared_sessions']} shared sessions, "
          + (f"{stored} stored histories that differ" if stored is not None else "stored histories not read "
             "(give --home)"))
    for key, label in (("first_card_ms", "first card"), ("full_reply_ms", "full reply")):
        s = result[key]
        print(f"{label:>10}: p50 {s.get('p50', '-')} ms  p95 {s.get('p95', '-')} ms  (n={s['n']})")
    print(f"server RSS: {result['server_rss_mib']['before']} MiB before, {result['server_rss_mib']['after']} MiB after")
    for text, row in result["by_message"].items():
        print(f"  {text:<16} n={row['n']:<3} first card p50 {row['first_card_p50']} ms, full p50 {row['full_p50']} ms")
    for e in result["error_examples"]:
        print("  error:", e)


if __name__ == "__main__":
    main()
