"""A real Chroma server (`chroma run`, shipped with chromadb) as the store: same results as the embedded store,
and two `daogou serve` processes on one server see a third process's ingest. Real e5 and EfficientNet."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import DAOGOU, _env, _run, free_port

pytestmark = pytest.mark.integration

QUERIES = ["红色连衣裙 300元以内", "wireless headphones", "保温杯", "有货的跑步鞋", "不要Nike的运动鞋"]
NEW = {"id": "NEW-QX-9000", "title": "量子星云保温杯 Quantum Nebula thermos QX9000", "category": "厨具",
       "brand": "星云", "price": 123.0, "stock": 5, "attributes": {"颜色": "蓝色"}}


def _wait_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"nothing listens on port {port} after {timeout:.0f} s")


@pytest.fixture
def chroma_server(tmp_path) -> Iterator[Callable[[], str]]:
    """Starts `chroma run` on a temp path and a free port; yields a function that gives its URL."""
    procs: list[subprocess.Popen] = []

    def start() -> str:
        port = free_port()
        chroma = Path(sys.executable).parent / "chroma"
        proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / f"srv{port}"), "--port", str(port),
                                 "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        _wait_port(port, proc, 120)
        return f"http://127.0.0.1:{port}"

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=30)


def _small_catalog(demo_catalog: Path, tmp_path: Path, n: int = 40) -> Path:
    """The first n demo products, beside the demo catalog (image paths stay inside the catalog's folder)."""
    out = demo_catalog.parent / f"small-{n}-{tmp_path.name}.jsonl"
    out.write_text("\n".join(demo_catalog.read_text(encoding="utf-8").splitlines()[:n]) + "\n", encoding="utf-8")
    return out


def _search(args: list[str], env: dict[str, str]) -> list[tuple[str, float]]:
    r = _run(["search", *args, "--json"], env)
    assert r.returncode == 0, r.stderr[-2000:]
    return [(p["id"], round(p["score"], 3)) for p in json.loads(r.stdout)["products"]]


def test_server_store_gives_the_same_results_as_the_embedded_one(chroma_server, demo_catalog, tmp_path):
    url = chroma_server()
    catalog = _small_catalog(demo_catalog, tmp_path)
    embedded, served = _env(tmp_path / "home-embedded"), _env(tmp_path / "home-served")
    r = _run(["ingest", str(catalog), "--json"], embedded)
    assert r.returncode == 0, r.stderr[-2000:]
    r = _run(["ingest", str(catalog), "--chroma-url", url, "--json"], served)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    assert report["written"] == 40 and report["index"]["products"] == 40
    assert not (tmp_path / "home-served" / "store").exists()  # nothing went to a local folder
    image = str(demo_catalog.parent / "images" / "P1003.png")
    for args in [[q] for q in QUERIES] + [["--image", image], ["类似的", "--image", image]]:
        here = _search(args, embedded)
        there = _search([*args, "--chroma-url", url], served)
        assert here and here == there, args
    again = _run(["ingest", str(catalog), "--chroma-url", url, "--json"], served)  # idempotent over HTTP too
    assert json.loads(again.stdout)["unchanged"] == 40


def _ask(widget: str, text: str) -> list[str]:
    from gradio_client import Client

    turn = Client(widget, verbose=False).predict(text, None, "", api_name="/ask")
    assert "error" not in turn, turn
    return [p["id"] for p in turn["products"]]


def test_two_serve_processes_share_one_server_and_see_another_process_ingest(chroma_server, demo_catalog,
                                                                             tmp_path):
    url = chroma_server()
    r = _run(["ingest", str(_small_catalog(demo_catalog, tmp_path, 30)), "--chroma-url", url],
             _env(tmp_path / "home-ingest"))
    assert r.returncode == 0, r.stderr[-2000:]
    widgets, procs = [], []
    try:
        for name in ("a", "b"):  # two machines' worth: each its own home (index cache), one catalog
            port = free_port()
            procs.append(subprocess.Popen(DAOGOU + ["serve", "--port", str(port), "--no-llm", "--chroma-url", url],
                                          env=_env(tmp_path / f"home-{name}"), stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            widgets.append(f"http://127.0.0.1:{port}/")
        for proc, widget in zip(procs, widgets, strict=True):
            _wait_port(int(widget.rsplit(":", 1)[1].strip("/")), proc, 600)
        for widget in widgets:
            assert NEW["id"] not in _ask(widget, "量子星云保温杯")
        new = tmp_path / "new.jsonl"
        new.write_text(json.dumps(NEW, ensure_ascii=False) + "\n", encoding="utf-8")
        r = _run(["ingest", str(new), "--chroma-url", url], _env(tmp_path / "home-ingest"))
        assert r.returncode == 0, r.stderr[-2000:]
        for widget in widgets:  # each serving process notices the store's new revision and reads only the new row
            deadline, seen = time.time() + 30, []
            while time.time() < deadline:
                seen = _ask(widget, "量子星云保温杯")
                if seen and seen[0] == NEW["id"]:
                    break
                time.sleep(1)
            assert seen and seen[0] == NEW["id"], (widget, seen)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


def test_an_unreachable_server_url_is_a_clear_error(tmp_path):
    r = _run(["search", "x", "--chroma-url", f"http://127.0.0.1:{free_port()}"], _env(tmp_path))
    assert r.returncode == 1 and "cannot reach the Chroma server at http://127.0.0.1:" in r.stderr
    assert "chroma run" in r.stderr and "Traceback" not in r.stderr

