"""The Gradio widget (`daogou serve`): a streaming chat with product cards, photo search, card actions and an API.

One `Agent` (it holds the LLM) serves every browser. Turns of different shoppers run side by side (up to
`TURN_CONCURRENCY`): a search answers while another shopper's reply is being written, and only the model's own
generation waits for the model (its lock); the turns of one session run one after the other (a lock per session).
`create_app` wraps the Blocks in a FastAPI app mounted at the configured sub-path, with the allowed embedding
origins (CORS for the web component, `frame-ancestors` for iframes).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, RedirectResponse
from PIL import Image

from daogou.agent.agent import Agent, TurnEvent
from daogou.app.browser_sessions import BrowserIdentity, history_messages, restore_identity
from daogou.app.cards_html import CARD_CSS, ThumbnailCache, cards_html, escape_text
from daogou.app.conversation import ChatSession
from daogou.app.session_store import SessionError, SessionStore
from daogou.app.uploads import UploadError, read_upload
from daogou.prompts import render
from daogou.settings import Settings

__all__ = ["ShopWidget", "create_app"]

log = logging.getLogger(__name__)

GRADIO_JS = Path(gr.__file__).parent / "templates" / "frontend" / "gradio.js"  # imports ./assets/index-*.js
API_USER = "api"  # user id of sessions opened through the /ask API
STREAM_CHARS = 4  # characters per streamed update of the reply's words
STREAM_PAUSE_S = 0.025  # between those updates: a 60-character sentence takes ~0.4 s to appear
TURN_CONCURRENCY = 4  # shoppers whose turns run at once; the LLM itself still writes one reply at a time
PAGE_CSS = CARD_CSS + """
#dg-chat{min-height:360px}
.dg-actions button{min-width:0}
footer{display:none !important}
"""


class ShopWidget:
    """The widget's behaviour over one shared agent and session store; `blocks()` lays it out."""

    def __init__(self, settings: Settings, agent: Agent, sessions: SessionStore) -> None:
        self.settings = settings
        self.agent = agent
        self.sessions = sessions
        self.lang = settings.ui_lang
        self.thumbs = ThumbnailCache(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _in_order(self, session_id: str, events: Iterator[TurnEvent]) -> Iterator[TurnEvent]:
        """The events of one turn, run under the session's lock: a double click never runs two turns of one
        session at once (a threading.Lock may be released by another thread, as Gradio steps generators)."""
        with self._locks_guard:
            lock = self._locks.setdefault(session_id, threading.Lock())
        with lock:
            yield from events

    def t(self, key: str, **variables: Any) -> str:
        """A UI string in the widget's language."""
        return render("ui", key, lang=self.lang, **variables)

    # -- sessions ------------------------------------------------------------------------------------
    def on_load(self, saved: object) -> tuple[Any, ...]:
        """Page load: this browser's session (restored when the shop keeps sessions) and its history."""
        ident = restore_identity(self.sessions, saved, keep=self.settings.ui_keep_session)
        history = history_messages(self.sessions, ident.session_id, self.lang, self.thumbs)
        last = next((m["products"] for m in reversed(self.sessions.messages(ident.session_id)) if m["products"]), [])
        return (ident.to_saved(), ident.to_saved(), history) + self._picks(last or [])

    def new_chat(self, ident: dict[str, str] | None) -> tuple[Any, ...]:
        """Start a new session for the same browser."""
        user = (ident or {}).get("user")
        fresh = restore_identity(self.sessions, None, keep=False) if not user else \
            BrowserIdentity(user, self.sessions.ensure_session(user))
        return (fresh.to_saved(), fresh.to_saved(), []) + self._picks([])

    def _picks(self, cards: list[dict[str, Any]]) -> tuple[Any, Any]:
        choices = [(f"{n}. {c['title']}", c["id"]) for n, c in enumerate(cards, 1)]
        return cards, gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)

    def _session(self, ident: dict[str, str] | None) -> tuple[ChatSession, dict[str, str]]:
        saved = restore_identity(self.sessions, ident, keep=True)
        sess = ChatSession(agent=self.agent, sessions=self.sessions, user_id=saved.user_id,
                           session_id=saved.session_id)
        return sess, saved.to_saved()

    # -- chat ----------------------------------------------------------------------------------------
    def chat(self, message: dict[str, Any] | str | None, history: list[dict[str, Any]] | None,
             ident: dict[str, str] | None, shown: list[dict[str, Any]] | None) -> Iterator[tuple[Any, ...]]:
        """One turn, streamed: the shopper's message, tool steps, product cards, then the words token by token."""
        text, files = (message.get("text") or "", message.get("files") or []) if isinstance(message, dict) \
            else (message or "", [])
        history = list(history or [])
        shown = list(shown or [])
        sess, ident = self._session(ident)
        image: Image.Image | None = None
        shown_text = escape_text(text)
        if files:
            path = files[0] if isinstance(files[0], str) else files[0].get("path", "")
            shown_text = (shown_text + " " if shown_text else "") + escape_text(
                self.t("image_shown", file=str(path).rsplit("/", 1)[-1]))
            try:
                image = read_upload(path, self.settings, self.lang)
            except UploadError as e:
                history += [{"role": "user", "content": shown_text},
                            {"role": "assistant", "content": escape_text(str(e))}]
                yield (history, None, ident) + self._picks(shown)
                return
            text = text.strip() or self.t("image_query")
        if not text.strip() and image is None:
            yield (history, None, ident) + self._picks(shown)
            return
        history.append({"role": "user", "content": shown_text})
        yield (history, None, ident) + self._picks(shown)
        yield from self._stream(sess, text, image, history, ident, shown)

    def _stream(self, sess: ChatSession, text: str, image: Image.Image | None, history: list[dict[str, Any]],
                ident: dict[str, str], shown: list[dict[str, Any]]) -> Iterator[tuple[Any, ...]]:
        words: dict[str, Any] | None = None
        step: dict[str, Any] | None = None
        try:
            for event in self._in_order(sess.session_id, sess.stream_turn(text, image)):
                if event.kind == "tool":
                    data = event.data
                    if step is None or data.get("status") == "pending":
                        step = {"role": "assistant", "content": self.t("tool_pending"),
                                "metadata": {"title": self.t("tool_title", tool=data["name"]), "status": "pending"}}
                        history.append(step)
                    if data.get("status") == "done":
                        step["content"] = escape_text(data.get("trace") or "")
                        step["metadata"] = {**step["metadata"], "status": "done",
                                            "duration": round(data.get("duration_ms", 0) / 1000, 2)}
                elif event.kind == "products":
                    shown = list(event.data)
                    history.append({"role": "assistant", "content": cards_html(shown, self.lang, self.thumbs)})
                elif event.kind == "token":
                    if words is None:
                        words = {"role": "assistant", "content": "", "raw": ""}
                        history.append(words)
                    # The agent releases words a sentence at a time (after its grounding check); show each
                    # released piece a few characters at a time, as a shopper expects of a streaming reply.
                    for n, start in enumerate(range(0, len(event.data), STREAM_CHARS)):
                        if n:
                            time.sleep(STREAM_PAUSE_S)
                        words["raw"] += event.data[start:start + STREAM_CHARS]
                        words["content"] = escape_text(words["raw"])
                        yield (_public(history), None, ident) + self._picks(shown)
                    continue
                else:
                    continue
                yield (_public(history), None, ident) + self._picks(shown)
        except (SessionError, ValueError, RuntimeError, OSError):
            log.exception("web turn failed")
            history.append({"role": "assistant", "content": escape_text(self.t("turn_failed"))})
            yield (_public(history), None, ident) + self._picks(shown)

    def act(self, action: str):
        """A card action (ask / similar / copy) on the picked product, as a chat turn."""
        def run(pid: str | None, history: list[dict[str, Any]] | None, ident: dict[str, str] | None,
                shown: list[dict[str, Any]] | None) -> Iterator[tuple[Any, ...]]:
            pid = pid or next((c["id"] for c in shown or []), None)
            if not pid:
                yield (history or [], None, ident) + self._picks(shown or [])
                return
            yield from self.chat({"text": self.t(f"{action}_text", id=pid), "files": []}, history, ident, shown)
        run.__name__ = f"card_{action}"
        return run

    # -- API -----------------------------------------------------------------------------------------
    def ask(self, text: str, image: str | None, session_id: str) -> Iterator[dict[str, Any]]:
        """API turn: streams {"session_id", "tool_calls", "products", "text", "done"}; pass session_id back."""
        try:
            sid = self.sessions.ensure_session(API_USER, session_id.strip() or None)
            img = read_upload(image, self.settings, self.lang) if image else None
        except (SessionError, UploadError) as e:
            yield {"error": str(e), "done": True}
            return
        if not (text or "").strip() and img is not None:
            text = self.t("image_query")
        out: dict[str, Any] = {"session_id": sid, "tool_calls": [], "products": [], "text": "", "done": False}
        sess = ChatSession(agent=self.agent, sessions=self.sessions, user_id=API_USER, session_id=sid)
        for event in self._in_order(sid, sess.stream_turn(text or "", img)):
            if event.kind == "products":
                out["products"] = event.data
            elif event.kind == "token":
                out["text"] += event.data
            elif event.kind == "done":
                out = {"session_id": sid, **event.data.to_json(), "done": True}
            else:
                continue
            yield dict(out)

    # -- layout --------------------------------------------------------------------------------------
    def blocks(self) -> gr.Blocks:
        """The Gradio Blocks of the widget (chat page, card actions, hidden API components)."""
        with gr.Blocks(title=self.t("title", shop_name=self.settings.shop_name)) as demo:
            saved = gr.BrowserState(None, storage_key="daogou_session")
            ident = gr.State(None)
            shown = gr.State([])
            chatbot = gr.Chatbot(elem_id="dg-chat", label=self.t("title", shop_name=self.settings.shop_name),
                                 height="65vh", sanitize_html=True, render_markdown=True, allow_tags=False,
                                 feedback_options=None, buttons=[], group_consecutive_messages=False)
            box = gr.MultimodalTextbox(elem_id="dg-input", placeholder=self.t("placeholder"), sources=["upload"],
                                       file_types=["image"], file_count="single", show_label=False,
                                       submit_btn=self.t("send"), autofocus=True)
            with gr.Row(elem_classes="dg-actions"):
                pick = gr.Dropdown(choices=[], label=self.t("pick_label"), elem_id="dg-pick", scale=3,
                                   min_width=140)
                ask_btn = gr.Button(self.t("action_ask"), size="sm", elem_id="dg-ask", min_width=60)
                similar_btn = gr.Button(self.t("action_similar"), size="sm", elem_id="dg-similar", min_width=60)
                copy_btn = gr.Button(self.t("action_copy"), size="sm", elem_id="dg-copy", min_width=60)
                new_btn = gr.Button(self.t("new_chat"), size="sm", elem_id="dg-new", min_width=60)
            with gr.Row(visible=False):
                api_text = gr.Textbox(label="text")
                api_image = gr.File(label="image", type="filepath")
                api_session = gr.Textbox(label="session_id")
                api_out = gr.JSON(label="turn")
                api_btn = gr.Button("ask")
            outs = [chatbot, box, ident, shown, pick]
            turn = {"concurrency_id": "agent", "concurrency_limit": TURN_CONCURRENCY, "api_visibility": "undocumented",
                    "show_progress": "minimal"}
            box.submit(self.chat, [box, chatbot, ident, shown], outs, api_name="chat", **turn)
            for btn, action in ((ask_btn, "ask"), (similar_btn, "similar"), (copy_btn, "copy")):
                btn.click(self.act(action), [pick, chatbot, ident, shown], outs, api_name=f"card_{action}", **turn)
            new_btn.click(self.new_chat, [ident], [ident, saved, chatbot, shown, pick], api_visibility="private")
            demo.load(self.on_load, [saved], [ident, saved, chatbot, shown, pick], api_visibility="private")
            ident.change(lambda v: v, [ident], [saved], api_visibility="private")
            api_btn.click(self.ask, [api_text, api_image, api_session], api_out, api_name="ask",
                          concurrency_id="agent", concurrency_limit=TURN_CONCURRENCY)
        return demo


def _public(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages without our private bookkeeping keys."""
    return [{k: v for k, v in m.items() if k != "raw"} for m in history]


def create_app(settings: Settings, agent: Agent, sessions: SessionStore) -> FastAPI:
    """The FastAPI app: the widget mounted at `settings.ui_root_path` ("/" when empty), with the embedding rules."""
    root = settings.ui_root_path
    origins = list(settings.ui_allowed_origins)
    app = FastAPI(title="daogou")
    # Gradio leaves CORS to a parent app that configures it: only the listed sites may drive the web component.
    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials="*" not in origins,
                       allow_methods=["*"], allow_headers=["*"])
    ancestors = "*" if "*" in origins else " ".join(["'self'", *origins])

    @app.middleware("http")
    async def frame_ancestors(request, call_next):  # iframes: only the listed sites may embed the page
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
        return response

    @app.get(f"{root}/gradio.js", include_in_schema=False)
    def web_component() -> FileResponse:  # Gradio's web component loader, from this server (no third-party host)
        return FileResponse(GRADIO_JS, media_type="text/javascript")

    if root:
        @app.get("/", include_in_schema=False)
        def to_root() -> RedirectResponse:
            return RedirectResponse(root + "/")

        @app.get("/assets/{path:path}", include_in_schema=False)
        def to_assets(path: str) -> RedirectResponse:  # the web component preloads its CSS from /assets/ at the host
            return RedirectResponse(f"{root}/assets/{path}")

    widget = ShopWidget(settings, agent, sessions)
    return gr.mount_gradio_app(app, widget.blocks().queue(default_concurrency_limit=4), path=root or "/",
                               allowed_paths=[], max_file_size=settings.ui_max_upload_bytes, css=PAGE_CSS,
                               footer_links=[], show_error=False)
