"""The foundation end to end with the real models: demo catalog, ingest, search, Chroma server, SIGKILL."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.integration

from tests.integration.helpers import DAOGOU, _env, _run, free_port  # noqa: E402


def _search(home: Path, *args: str) -> dict:
    r = _run(["search", *args, "--json"], _env(home))
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def test_red_dress_under_300_respects_filters(demo_home):
    out = _search(demo_home, "红色连衣裙 300元以内")
    products = out["products"]
    assert products and not out["relaxed"]
    assert all(p["price"] <= 300 for p in products)
    assert all("红" in p["attributes"]["颜色"] for p in products)
    assert "连衣裙" in products[0]["title"]


def test_english_query_and_no_exact_match(demo_home):
    out = _search(demo_home, "red dress under 300")
    assert out["products"] and all(p["price"] <= 300 for p in out["products"])
    none = _search(demo_home, "连衣裙 5元以内")
    assert none["relaxed"] and "price" in none["dropped"]


def test_image_search_finds_the_product_itself(demo_home, demo_catalog):
    rows = [json.loads(line) for line in demo_catalog.read_text(encoding="utf-8").splitlines()]
    target = rows[5]
    out = _search(demo_home, "--image", str(demo_catalog.parent / target["images"][0]), "-k", "3")
    assert out["products"][0]["id"] == target["id"]


def test_corrupt_query_image_is_a_clear_error(demo_home, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    r = _run(["search", "--image", str(bad)], _env(demo_home))
    assert r.returncode == 1 and "error:" in r.stderr and "Traceback" not in r.stderr


def test_ingest_killed_half_way_then_rerun_ends_exact(demo_catalog, tmp_path):
    home = tmp_path / "home"
    env = _env(home, DAOGOU_BATCH_SIZE="16")
    proc = subprocess.Popen(DAOGOU + ["ingest", str(demo_catalog), "--progress"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    total = sum(1 for _ in demo_catalog.open(encoding="utf-8"))
    seen = b""
    deadline = time.time() + 300
    while time.time() < deadline:
        chunk = os.read(proc.stderr.fileno(), 256)
        if not chunk:
            break
        seen += chunk
        done = [int(x) for x in re.findall(rb"\| *(\d+)/\d+", seen)]
        if done and 48 <= done[-1] < total - 32:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, seen[-500:]
    r = _run(["ingest", str(demo_catalog), "--json"], env)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    assert report["unchanged"] >= 48  # the batches written before the kill were not redone
    from daogou.ingest.store import open_store
    from daogou.settings import Settings

    store = open_store(Settings(home=home))
    ids = {json.loads(line)["id"] for line in demo_catalog.open(encoding="utf-8")}
    assert set(store.all_ids()) == ids and store.count() == len(ids)


def test_chroma_server_backend(tmp_path, demo_catalog):
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    server = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "srv"), "--port", str(port),
                               "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        env = _env(tmp_path / "home", DAOGOU_CHROMA_HOST="127.0.0.1", DAOGOU_CHROMA_PORT=str(port))
        small = tmp_path / "small.jsonl"
        lines = demo_catalog.read_text(encoding="utf-8").splitlines()[:40]
        rows = [json.loads(line) for line in lines]
        for row in rows:
            row["images"] = [str(demo_catalog.parent / p) for p in row["images"]]
        small.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
        r = _run(["ingest", str(small)], env)
        assert r.returncode == 0, r.stderr[-2000:]
        assert not (tmp_path / "home" / "store").exists()  # nothing went to a local folder
        r = _run(["search", rows[0]["title"].split(" / ")[0], "--json"], env)
        assert r.returncode == 0, r.stderr[-2000:]
        assert json.loads(r.stdout)["products"][0]["id"] == rows[0]["id"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_unreachable_chroma_server_is_a_clear_error(tmp_path):
    env = _env(tmp_path, DAOGOU_CHROMA_HOST="127.0.0.1", DAOGOU_CHROMA_PORT=str(free_port()))
    r = _run(["search", "x"], env)
    assert r.returncode == 1 and "chroma run" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(not (SHARED_DATA / "dev").exists(), reason="../shared/data/dev not present")
def test_dev_split_retrieval_beats_dense_baseline(tmp_path):
    r = _run(["eval", "retrieval", "--corpus", str(SHARED_DATA / "dev" / "dev_corpus.jsonl"),
              "--queries", str(SHARED_DATA / "dev" / "dev_queries.jsonl"), "--json"], _env(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    metrics = json.loads(r.stdout)
    assert metrics["n"] == 100
    assert metrics["ndcg@10"] >= 0.93, metrics
