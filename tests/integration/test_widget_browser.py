"""`daogou serve` in a real browser: Debian's Chromium driven by Playwright against the real server and models.

One server per module (real LLM, demo catalog + two XSS records and one with Markdown images and links, mounted
under /shop/assistant, embedding allowed from a second local port that serves examples/embed.html). Screenshots go
to artifacts/screenshots/ (not in git).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.helpers import DAOGOU, _env, _run

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "screenshots"
SUB_PATH = "/shop/assistant"
XSS = [
    {"id": "X9001", "title": "<img src=x onerror=alert(1)> 红色测试连衣裙", "price": 88, "category": "服装",
     "brand": "<b>Evil</b>", "attributes": {"颜色": "红色", "材质": "<script>alert(2)</script>"}, "stock": 3,
     "description": "<img src=x onerror=alert(3)>"},
    {"id": "X9002", "title": "<script>window.__dgxss=1</script>蓝色测试马克杯", "price": 19, "category": "家居",
     "brand": "Safe", "attributes": {"颜色": "蓝色"}, "stock": 0, "description": "<script>window.__dgxss=2</script>"},
]
# [number of cards, length of the reply's words] (the last bot bubble that is neither cards nor a tool step)
SNAPSHOT = """() => {
  const bots = [...document.querySelectorAll('#dg-chat [data-testid=bot]')]
    .filter(e => !e.querySelector('.dg-cards') && !e.querySelector('.thought-group'));
  const cards = document.querySelectorAll('#dg-chat .dg-card').length;
  return [cards, bots.length ? bots[bots.length - 1].innerText.length : 0];
}"""
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            out = proc.stdout.read()[-3000:] if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {out}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(1)
    raise TimeoutError(f"{url} did not answer in {timeout:.0f} s")


@pytest.fixture(scope="module")
def beacon():
    """A local HTTP server that records every request: a catalog title links to it, and nothing may fetch it."""
    import http.server
    import threading

    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()


@pytest.fixture(scope="module")
def widget_home(demo_home, tmp_path_factory, beacon) -> Path:
    """A copy of the demo home with three XSS / Markdown records ingested by the real CLI."""
    home = tmp_path_factory.mktemp("widget") / "home"
    shutil.copytree(demo_home, home)
    xss = home.parent / "xss.jsonl"
    markdown = {"id": "X9003", "title": f"![pixel]({beacon[0]}/pixel.png) 绿色测试帽子 [点我]({beacon[0]}/link)",
                "price": 29, "category": "服装", "brand": "Safe", "attributes": {"颜色": "绿色"}, "stock": 2,
                "description": f"![x]({beacon[0]}/desc.png)"}
    xss.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [*XSS, markdown]) + "\n", encoding="utf-8")
    r = _run(["ingest", str(xss)], _env(home))
    assert r.returncode == 0, r.stderr[-3000:]
    return home


@pytest.fixture(scope="module")
def embed_origin():
    """examples/ served by `python -m http.server` on a second port: another origin than the widget."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory",
                             str(ROOT / "examples")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    origin = f"http://127.0.0.1:{port}"
    _wait_http(origin + "/embed.html", proc, 30)
    yield origin
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def widget(widget_home, embed_origin):
    """`daogou serve` (real LLM) under /shop/assistant on a free port; yields the widget's URL."""
    port = _free_port()
    # every page of these tests comes from 127.0.0.1: no per-client rate limit (tested in tests/unit/test_admission.py
    # and test_serve_boundary.py), so that a turn never depends on how fast the tests before it ran
    proc = subprocess.Popen(DAOGOU + ["serve", "--port", str(port), "--root-path", SUB_PATH, "--allow-origin",
                                      embed_origin], env=_env(widget_home, DAOGOU_UI_RATE_PER_MIN="0"),
                            stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}{SUB_PATH}/"
    try:
        _wait_http(url, proc, 600)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium); scripts/setup.sh installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _open(browser, url, **context):
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    page.goto(url)
    page.locator("#dg-input textarea").wait_for(timeout=60_000)
    return ctx, page


def _send(scope, text: str) -> None:
    box = scope.locator("#dg-input textarea")
    box.fill(text)
    box.press("Enter")


def _bot_texts(scope) -> list[str]:
    return scope.locator("#dg-chat [data-testid=bot]").all_inner_texts()


def _wait_cards(scope, n_before: int = 0, timeout: float = 120) -> None:
    end = time.time() + timeout
    while scope.locator(".dg-card").count() <= n_before:
        assert time.time() < end, f"no product cards appeared; the last replies: {_bot_texts(scope)[-2:]}"
        time.sleep(0.1)


def _busy(scope) -> bool:
    """Whether a turn is running: the chat's progress tracker is shown (Gradio adds `hide` when idle)."""
    tracker = scope.locator("#dg-chat [data-testid=status-tracker]").first
    return "hide" not in (tracker.get_attribute("class") or "hide").split()


def _wait_idle(scope, timeout: float = 180) -> None:
    """Until the running turn (including the model's words) is over."""
    end = time.time() + timeout
    while _busy(scope):
        assert time.time() < end, "the turn did not finish"
        time.sleep(0.2)


def test_chat_cards_first_then_streamed_words_desktop_and_phone(browser, widget):
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx, page = _open(browser, widget, viewport={"width": 1280, "height": 900})
    _send(page, "红色连衣裙 300元以内")
    t0, first_card, seen = time.time(), None, []  # seen: (seconds, length of the reply's words) at each change
    while time.time() - t0 < 180 and len(seen) < 3:
        n_cards, n = page.evaluate(SNAPSHOT)  # one DOM snapshot: cards and words seen at the same instant
        if first_card is None and n_cards:
            first_card = time.time() - t0
        if n and (not seen or seen[-1][1] != n):
            seen.append((time.time() - t0, n))
        time.sleep(0.05)
    assert seen, "no words appeared"
    lengths = [n for _, n in seen]
    first_words = seen[0][0]
    print(f"\nwidget (browser): first card {first_card:.2f} s, first words {first_words:.2f} s, "
          f"words grew {lengths[0]} -> {lengths[-1]} chars by {seen[-1][0]:.2f} s")
    assert first_card <= first_words  # cards before words
    assert len(lengths) >= 3 and lengths == sorted(set(lengths))  # the words grew over several updates
    cards = page.locator(".dg-card")
    assert cards.count() >= 1
    for i in range(cards.count()):
        card = cards.nth(i)
        if card.locator(".dg-id").inner_text().startswith("P"):  # demo products have pictures; XSS records none
            assert card.locator("img").get_attribute("src").startswith("data:image/jpeg;base64,")
        else:
            assert card.locator(".dg-noimg").count() == 1
        price = re.search(r"¥([\d,]+)", card.inner_text())
        assert price and float(price.group(1).replace(",", "")) <= 300
    assert page.locator("#dg-chat .thought-group, #dg-chat [class*=thought]").count() >= 1  # tool step shown
    _wait_idle(page)
    page.screenshot(path=str(SHOTS / "chat-desktop.png"), full_page=True)

    # Clicking a card action asks about the picked card (the first one by default).
    first_id = cards.first.locator(".dg-id").inner_text()
    n_before = cards.count()
    page.locator("#dg-similar").click()
    _wait_cards(page, n_before)
    assert any(first_id in t for t in page.locator("#dg-chat [data-testid=user]").all_inner_texts())
    _wait_idle(page)
    ctx.close()

    ctx, phone = _open(browser, widget, viewport={"width": 375, "height": 812}, is_mobile=True)
    _send(phone, "给狗狗买的狗粮")  # the demo catalog sells dog food (and no dog snacks: it says so)
    _wait_cards(phone)
    _wait_idle(phone)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling at 375 px
    phone.screenshot(path=str(SHOTS / "chat-375.png"), full_page=True)
    ctx.close()


def test_uploaded_photo_finds_similar_and_a_bad_file_gets_words_not_a_trace(browser, widget, demo_catalog, tmp_path):
    ctx, page = _open(browser, widget)
    page.locator("#dg-input input[type=file]").set_input_files(str(demo_catalog.parent / "images" / "P1024.png"))
    page.locator("#dg-input .thumbnail-item, #dg-input img").first.wait_for(timeout=30_000)
    _send(page, "找类似的")
    _wait_cards(page)
    assert page.locator(".dg-card .dg-id").first.inner_text() == "P1024"
    _wait_idle(page)
    fake = tmp_path / "fake.png"
    fake.write_text("this is not a picture", encoding="utf-8")
    page.locator("#dg-input input[type=file]").set_input_files(str(fake))
    page.locator("#dg-input .thumbnail-item, #dg-input img").first.wait_for(timeout=30_000)
    _send(page, "找类似的")
    page.get_by_text("这张图片打不开").wait_for(timeout=60_000)
    assert "Traceback" not in page.locator("body").inner_text()
    ctx.close()


def test_xss_in_catalog_records_is_inert_text(browser, widget):
    ctx, page = _open(browser, widget)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _send(page, "比较 X9001 和 X9002")
    _wait_cards(page)
    _wait_idle(page)
    ids = page.locator(".dg-card .dg-id").all_inner_texts()
    assert {"X9001", "X9002"} <= set(ids)
    chat_text = page.locator("#dg-chat").inner_text()
    assert "<img src=x onerror=alert(1)>" in chat_text and "<script>window.__dgxss=1</script>" in chat_text
    assert page.evaluate("document.querySelectorAll('#dg-chat img[src=\"x\"], #dg-chat script').length") == 0
    assert page.evaluate("typeof window.__dgxss") == "undefined"
    assert dialogs == []
    ctx.close()


def test_markdown_in_catalog_text_and_messages_fetches_nothing_and_links_nowhere(browser, widget, beacon):
    url, hits = beacon
    ctx, page = _open(browser, widget)
    _send(page, f"介绍一下 X9003 ![me]({url}/typed.png) [x]({url}/typed-link)")
    _wait_cards(page)
    _wait_idle(page)
    chat = page.locator("#dg-chat")
    assert "![pixel](" in chat.inner_text() and "[点我](" in chat.inner_text()  # shown as the text it is
    assert page.evaluate(f"document.querySelectorAll('#dg-chat img[src^=\"{url}\"], #dg-chat a[href^=\"{url}\"]')"
                         ".length") == 0
    page.reload()  # the stored history comes back the same way
    page.get_by_text("绿色测试帽子").first.wait_for(timeout=60_000)
    assert hits == [], f"the browser fetched {hits}"
    ctx.close()


def test_embedded_from_another_origin_under_a_sub_path(browser, widget, embed_origin):
    base = widget.rsplit(SUB_PATH, 1)[0]
    with urllib.request.urlopen(base + "/") as r:  # / redirects to the sub-path
        assert r.url.rstrip("/").endswith(SUB_PATH)
    with urllib.request.urlopen(widget + "gradio.js") as r:  # the web component comes from the app itself
        assert r.headers["Content-Type"].startswith("text/javascript") and b"import(" in r.read()
        assert embed_origin in r.headers["Content-Security-Policy"]  # frame-ancestors lists the allowed site
    for origin, allowed in ((embed_origin, True), ("http://evil.example", False)):
        req = urllib.request.Request(widget + "config", headers={"Origin": origin})
        with urllib.request.urlopen(req) as r:
            assert (r.headers.get("Access-Control-Allow-Origin") == origin) is allowed

    ctx = browser.new_context(viewport={"width": 1280, "height": 1600})
    page = ctx.new_page()
    page.goto(f"{embed_origin}/embed.html?widget={widget}")
    frame = page.frame_locator("#daogou-iframe")
    frame.locator("#dg-input textarea").wait_for(timeout=60_000)
    component = page.locator("gradio-app")
    component.locator("#dg-input textarea").wait_for(timeout=60_000)
    _send(component, "马克杯")
    _wait_cards(component)
    # one turn after the other: in the full CI run the iframe's turn, sent while the component's reply was still
    # being written, showed nothing for 120 s (twice; never when this file runs alone). Two shoppers at once are
    # measured by bench/load_bench.py; this test is about embedding.
    _wait_idle(component)
    _send(frame, "跑步鞋")
    _wait_cards(frame)
    _wait_idle(frame)
    page.screenshot(path=str(SHOTS / "embed.png"), full_page=True)
    ctx.close()


def test_two_browsers_keep_separate_sessions_and_a_reload_keeps_history(browser, widget):
    ctx_a, a = _open(browser, widget)
    ctx_b, b = _open(browser, widget)
    _send(a, "白色马克杯")
    _wait_cards(a)
    _wait_idle(a)
    assert b.locator("#dg-chat [data-testid=user]").count() == 0
    _send(b, "黑色跑步鞋")
    _wait_cards(b)
    _wait_idle(b)
    a.reload()
    a.get_by_text("白色马克杯").first.wait_for(timeout=30_000)
    users_a = a.locator("#dg-chat [data-testid=user]").all_inner_texts()
    users_b = b.locator("#dg-chat [data-testid=user]").all_inner_texts()
    assert any("白色马克杯" in t for t in users_a) and not any("跑步鞋" in t for t in users_a)
    assert any("跑步鞋" in t for t in users_b) and not any("马克杯" in t for t in users_b)
    assert a.locator(".dg-card").count() >= 1  # the cards come back with the history
    ctx_a.close()
    ctx_b.close()


def test_gradio_client_streams_and_continues_a_session(widget, demo_catalog):
    from gradio_client import Client, handle_file

    client = Client(widget, verbose=False)
    assert "/ask" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    job = client.submit("红色连衣裙 300元以内", None, "", api_name="/ask")
    partial = list(job)
    final = job.result()
    assert final["done"] and len(partial) >= 2 and not partial[0]["done"]
    assert final["products"] and all(p["price"] <= 300 for p in final["products"])
    assert final["tool_calls"][0]["name"] == "search_catalog"
    cheaper = client.predict("便宜点的", None, final["session_id"], api_name="/ask")
    top = max(p["price"] for p in final["products"])
    assert cheaper["session_id"] == final["session_id"] and all(p["price"] < top for p in cheaper["products"])
    by_image = client.predict("", handle_file(str(demo_catalog.parent / "images" / "P1024.png")), "",
                              api_name="/ask")
    assert by_image["products"][0]["id"] == "P1024"
    bad = client.predict("x", handle_file(os.__file__), "", api_name="/ask")
    assert "error" in bad and "os.py" in bad["error"]


def test_a_second_shoppers_cards_do_not_wait_for_the_first_shoppers_reply(widget):
    """Two API shoppers at once on the real model: B asks as soon as A's cards are out (A's words still being
    written); B's cards must come before A's turn ends. The model writes one reply at a time, but the reading of a
    turn skips a busy model and a search never waits for it. (Order of events, not a wall-clock limit.)"""
    import threading

    from gradio_client import Client

    events: list[tuple[str, str]] = []  # (shopper, "cards" | "done"), in the order they happened
    lock, a_cards = threading.Lock(), threading.Event()

    clients = {"A": Client(widget, verbose=False), "B": Client(widget, verbose=False)}  # connected before

    def shopper(name: str, text: str, after: threading.Event | None) -> None:
        if after is not None:
            assert after.wait(300), "shopper A never got cards"
        job = clients[name].submit(text, None, "", api_name="/ask")
        seen = False
        for partial in job:
            if partial.get("products") and not seen:
                seen = True
                with lock:
                    events.append((name, "cards"))
                if name == "A":
                    a_cards.set()
        with lock:
            events.append((name, "done"))

    a = threading.Thread(target=shopper, args=("A", "推荐一款适合送妈妈的保温杯，说说理由", None))
    b = threading.Thread(target=shopper, args=("B", "黑色跑步鞋", a_cards))
    a.start(), b.start()
    a.join(600), b.join(600)
    assert ("A", "cards") in events and ("B", "cards") in events, events
    assert events.index(("B", "cards")) < events.index(("A", "done")), events
