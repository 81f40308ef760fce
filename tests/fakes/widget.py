"""A real `daogou serve` app (Gradio + FastAPI under uvicorn, in a thread) over a fake-encoder catalog and a
scripted reply writer: for unit tests of the HTTP boundary (auth, uploads, queue, sessions) without the models."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from daogou.agent.agent import Agent
from daogou.app.server import create_app
from daogou.app.session_store import SessionStore
from daogou.app.webapp import ShopWidget
from daogou.settings import Settings


class ScriptedWriter:
    """Streams a fixed reply a few characters at a time; `gate` (an Event) holds it until set."""

    def __init__(self, reply: str = "这件很适合你。", gate: threading.Event | None = None) -> None:
        self.reply = reply
        self.gate = gate

    def stream(self, messages, *, max_new_tokens=64):
        if self.gate is not None:
            self.gate.wait(30)
        for i in range(0, len(self.reply), 3):
            yield self.reply[i:i + 3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    url: str  # ends with "/"
    settings: Settings
    widget: ShopWidget
    sessions: SessionStore

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@contextmanager
def serve_widget(settings: Settings, agent: Agent, sessions: SessionStore | None = None) -> Iterator[Served]:
    """Run `create_app` on a free loopback port until the block ends."""
    sessions = sessions or SessionStore(":memory:")
    app = create_app(settings, agent, sessions)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning",
                                           lifespan="on", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}{settings.ui_root_path}/"
    end = time.time() + 30
    while not server.started:
        if time.time() > end or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield Served(url, settings, app.state.daogou_widget, sessions)
    finally:
        server.should_exit = True
        thread.join(15)


def upload_dir(settings: Settings) -> Path:
    return settings.home / "uploads"
