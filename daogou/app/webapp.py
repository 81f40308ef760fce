"""The Gradio widget (`daogou serve`): a streaming chat with product cards, photo search, card actions and an API.

One `Agent` (it holds the LLM) serves every browser. Every turn passes the `TurnGate` first (per-client rate,
a bounded number of turns in the house, one session's turns in order); a refused turn gets a friendly
"busy" reply and the shopper's words stay in the input box. Turns of different shoppers run side by side (up
to ``ui_turns_at_once``): a search answers while other shoppers' replies are being written, and only the
model's own generation waits for the model. `daogou.app.server.create_app` serves the Blocks at the configured
sub-path behind the HTTP gate. Security and limits: README.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gradio as gr
from PIL import Image

from daogou.agent.agent import Agent
from daogou.app.access import key_tag
from daogou.app.admission import Busy, RateLimiter, TurnGate
from daogou.app.browser_sessions import history_messages, restore_identity
from daogou.app.cards_html import ThumbnailCache, cards_html, catalog_jpeg, escape_text
from daogou.app.conversation import ChatSession
from daogou.app.session_store import SessionError, SessionStore, StoreUnavailable, validate_id
from daogou.app.uploads import UploadError, UploadFolder, confine_file_inputs, read_upload, uploads_root
from daogou.prompts import render
from daogou.settings import Settings

__all__ = ["IMAGE_SIDE", "ShopWidget", "image_url"]

IMAGE_SIDE = 800  # px, long side of a product picture served to API clients (`GET <root>/images/<id>`)

log = logging.getLogger(__name__)

API_USER_PREFIX = "api-"  # user ids of API shoppers: api-<client tag>-<random>, one per session
STREAM_CHARS = 4  # characters per streamed update of the reply's words
STREAM_PAUSE_S = 0.025  # between those updates: a 60-character sentence takes ~0.4 s to appear
MAX_SHOWN_MESSAGES = 80  # chat messages kept on the page (older ones stay in the store)


class ShopWidget:
    """The widget's behaviour over one shared agent and session store; `blocks()` lays it out."""

    def __init__(self, settings: Settings, agent: Agent, sessions: SessionStore) -> None:
        self.settings = settings
        self.agent = agent
        self.sessions = sessions
        self.lang = settings.ui_lang
        self.thumbs = ThumbnailCache(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
        self.gate = TurnGate(running=min(settings.ui_turns_at_once, settings.ui_queue_size),
                             capacity=settings.ui_queue_size,
                             wait_s=settings.ui_queue_wait_s,
                             limiter=RateLimiter(settings.ui_rate_per_min, settings.ui_rate_burst))
        self.uploads = UploadFolder(uploads_root(settings), max_age_s=settings.ui_upload_ttl_s,
                                    max_total_bytes=settings.ui_uploads_max_bytes)
        self.key_tag = key_tag(settings.api_key)

    def t(self, key: str, **variables: Any) -> str:
        """A UI string in the widget's language."""
        return render("ui", key, lang=self.lang, **variables)

    def _busy_text(self, busy: Busy) -> str:
        return self.t(f"busy_{busy.reason}", seconds=int(busy.retry_after_s))

    # -- sessions ------------------------------------------------------------------------------------
    def on_load(self, saved: object) -> tuple[Any, ...]:
        """Page load: this browser's session (restored when the shop keeps sessions) and its last messages."""
        try:
            ident = restore_identity(self.sessions, saved, keep=self.settings.ui_keep_session)
            stored = self.sessions.messages(ident.session_id, limit=MAX_SHOWN_MESSAGES)
        except StoreUnavailable as e:
            log.error("page load without the sessions database: %s", e)  # the reason and the fix; no traceback
            note = [{"role": "assistant", "content": escape_text(self.t("store_unavailable"))}]
            return (None, saved, note) + self._picks([])
        history = history_messages(stored, self.lang, self.thumbs)
        last = next((m["products"] for m in reversed(stored) if m["products"]), [])
        return (ident.to_saved(), ident.to_saved(), history) + self._picks(last or [])

    def new_chat(self, ident: dict[str, str] | None) -> tuple[Any, ...]:
        """Start a new session for the same browser."""
        try:
            fresh = restore_identity(self.sessions, ident, keep=True, new_session=True)
        except StoreUnavailable as e:
            log.error("new chat without the sessions database: %s", e)  # the reason and the fix; no traceback
            return (ident, ident, [{"role": "assistant", "content": escape_text(self.t("store_unavailable"))}]) \
                + self._picks([])
        return (fresh.to_saved(), fresh.to_saved(), []) + self._picks([])

    def _picks(self, cards: list[dict[str, Any]]) -> tuple[Any, Any]:
        choices = [(f"{n}. {c['title']}", c["id"]) for n, c in enumerate(cards, 1)]
        return cards, gr.Dropdown(choices=choices, value=choices[0][1] if choices else None)

    def _client(self, request: gr.Request | None) -> str:
        """Who is asking, for rate limits: the client's address (one per browser or API caller host)."""
        if request is None or request.client is None:
            return "local"
        return str(request.client.host)

    # -- chat ----------------------------------------------------------------------------------------
    def chat(self, message: dict[str, Any] | str | None, history: list[dict[str, Any]] | None,
             ident: dict[str, str] | None, shown: list[dict[str, Any]] | None,
             request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
        """One turn, streamed: the shopper's message, tool steps, product cards, then the words token by token."""
        text, files = _message_parts(message)
        history = list(history or [])[-MAX_SHOWN_MESSAGES:]
        shown = list(shown or [])

        def refuse(words: str) -> Iterator[tuple[Any, ...]]:  # the shopper's message stays in the box
            yield (history + [{"role": "assistant", "content": escape_text(words)}], message, ident) \
                + self._picks(shown)

        if len(text) > self.settings.ui_max_message_chars:
            yield from refuse(self.t("message_too_long", n=len(text), limit=self.settings.ui_max_message_chars))
            return
        if len(files) > 1:
            yield from refuse(self.t("upload_one_only", n=len(files)))
            return
        if not text.strip() and not files:
            yield (history, None, ident) + self._picks(shown)
            return
        try:
            ident_obj = restore_identity(self.sessions, ident, keep=True)
        except StoreUnavailable as e:
            log.error("web turn without the sessions database: %s", e)  # the reason and the fix; no traceback
            yield from refuse(self.t("store_unavailable"))
            return
        ident = ident_obj.to_saved()
        sess = ChatSession(agent=self.agent, sessions=self.sessions, user_id=ident_obj.user_id,
                           session_id=ident_obj.session_id)
        shown_text = escape_text(text)
        if files:
            shown_text = (shown_text + " " if shown_text else "") + escape_text(
                self.t("image_shown", file=str(files[0]).rsplit("/", 1)[-1]))
        try:
            with self.gate.turn(self._client(request), sess.session_id):
                image: Image.Image | None = None
                if files:
                    try:
                        image = self._photo(files[0], sess.user_id)
                    except UploadError as e:
                        history += [{"role": "user", "content": shown_text},
                                    {"role": "assistant", "content": escape_text(str(e))}]
                        yield (history, None, ident) + self._picks(shown)
                        return
                    text = text.strip() or self.t("image_query")
                history.append({"role": "user", "content": shown_text})
                yield (history, None, ident) + self._picks(shown)
                yield from self._stream(sess, text, image, history, ident, shown)
        except Busy as busy:
            yield from refuse(self._busy_text(busy))

    def _photo(self, path: str, user_id: str) -> Image.Image:
        """The uploaded photo, claimed for the shopper, decoded and deleted (`UploadError` for the shopper)."""
        try:
            claimed = self.uploads.claim(path, user_id)
        except (UploadError, OSError) as e:
            log.warning("upload refused: %s", type(e).__name__)
            raise UploadError(self.t("upload_unreadable")) from e
        try:
            return read_upload(claimed, self.settings, self.lang, name=Path(path).name)
        finally:
            claimed.unlink(missing_ok=True)

    def _stream(self, sess: ChatSession, text: str, image: Image.Image | None, history: list[dict[str, Any]],
                ident: dict[str, str], shown: list[dict[str, Any]]) -> Iterator[tuple[Any, ...]]:
        words: dict[str, Any] | None = None
        step: dict[str, Any] | None = None
        try:
            for event in sess.stream_turn(text, image):
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
        except StoreUnavailable as e:
            log.error("web turn: sessions database unavailable: %s", e)  # the reason and the fix; no traceback
            note = "reply_not_saved" if words is not None else "store_unavailable"
            history.append({"role": "assistant", "content": escape_text(self.t(note))})
            yield (_public(history), None, ident) + self._picks(shown)
        except (SessionError, ValueError, RuntimeError, OSError):
            log.exception("web turn failed")
            history.append({"role": "assistant", "content": escape_text(self.t("turn_failed"))})
            yield (_public(history), None, ident) + self._picks(shown)

    def act(self, action: str):
        """A card action (ask / similar / copy) on the picked product, as a chat turn."""
        def run(pid: str | None, history: list[dict[str, Any]] | None, ident: dict[str, str] | None,
                shown: list[dict[str, Any]] | None, request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
            pid = pid if isinstance(pid, str) else None
            pid = pid or next((c["id"] for c in shown or []), None)
            if not pid:
                yield (history or [], None, ident) + self._picks(shown or [])
                return
            yield from self.chat({"text": self.t(f"{action}_text", id=pid), "files": []}, history, ident, shown,
                                 request)
        run.__name__ = f"card_{action}"
        return run

    # -- API -----------------------------------------------------------------------------------------
    def _api_owner(self, request: gr.Request | None) -> str:
        """The prefix of the user ids this API client's sessions belong to (its API key, else its address)."""
        tag = self.key_tag or "ip" + hashlib.sha256(self._client(request).encode()).hexdigest()[:10]
        return f"{API_USER_PREFIX}{tag}-"

    def _api_session(self, session_id: object, request: gr.Request | None) -> tuple[str, str]:
        """(user id, session id): a new session when none is given, else one this client was issued."""
        owner = self._api_owner(request)
        if session_id is None or (isinstance(session_id, str) and not session_id.strip()):
            ident = restore_identity(self.sessions, None, keep=False, prefix=owner)
            return ident.user_id, ident.session_id
        sid = validate_id(session_id.strip() if isinstance(session_id, str) else session_id, "session id")
        user = self.sessions.session_owner(sid)
        if user is None or not user.startswith(owner):
            raise SessionError(f"unknown session id {sid!r} (sessions are issued by this server to the client "
                               "that started them); pass \"\" as session_id to start a new session")
        return user, sid

    def ask(self, text: object, image: object = None, session_id: object = "",
            request: gr.Request | None = None) -> Iterator[dict[str, Any]]:
        """API turn: streams {"session_id", "tool_calls", "products", "text", "done"}; pass session_id back.

        Takes the raw API values (the event does not preprocess them), so a wrong type is refused by name rather
        than turned into text: text a string, image an uploaded file (FileData) or null, session_id a string.
        """
        error = _api_type_error(text, image, session_id)
        if error:
            yield {"error": error, "done": True}
            return
        text = _clean(text or "")
        if len(text) > self.settings.ui_max_message_chars:
            yield {"error": f"text of {len(text)} characters is over the limit of "
                            f"{self.settings.ui_max_message_chars}; send a shorter message", "done": True}
            return
        try:
            user, sid = self._api_session(session_id, request)
        except StoreUnavailable as e:
            log.error("API turn without the sessions database: %s", e)  # the reason and the fix; no traceback
            yield {"error": self.t("store_unavailable"), "done": True}
            return
        except SessionError as e:
            yield {"error": str(e), "done": True}
            return
        try:
            with self.gate.turn(self._client(request), sid):
                img = None
                if image:
                    try:
                        img = self._photo(_file_path(image), user)
                    except UploadError as e:
                        yield {"session_id": sid, "error": str(e), "done": True}
                        return
                if not text.strip() and img is not None:
                    text = self.t("image_query")
                yield from self._api_stream(ChatSession(agent=self.agent, sessions=self.sessions, user_id=user,
                                                        session_id=sid), text, img)
        except Busy as busy:
            yield {"session_id": sid, "error": self._busy_text(busy), "busy": True,
                   "retry_after_s": busy.retry_after_s, "done": True}

    def product_image(self, product_id: str) -> bytes | None:
        """The first picture of a catalog product as JPEG bytes (what `image_url` points at), or None when the
        product is unknown or has no picture on this server's disk that can be read."""
        products = self.agent.index.store.get_products([product_id])
        if not products or not products[0].images or _is_url(products[0].images[0]):
            return None
        return catalog_jpeg(products[0].images[0], max_bytes=self.settings.max_image_bytes,
                            max_pixels=self.settings.max_image_pixels, side=IMAGE_SIDE)

    def _public(self, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Products as the API shows them: a picture on this server's disk as a URL of this app, never its path."""
        root = self.settings.ui_root_path
        return [{**p, "image": image_url(p["id"], root)} if p.get("image") and not _is_url(p["image"]) else p
                for p in products]

    def _api_stream(self, sess: ChatSession, text: str, img: Image.Image | None) -> Iterator[dict[str, Any]]:
        sid = sess.session_id
        out: dict[str, Any] = {"session_id": sid, "tool_calls": [], "products": [], "text": "", "done": False}
        try:
            for event in sess.stream_turn(text, img):
                if event.kind == "products":
                    out["products"] = self._public(event.data)
                elif event.kind == "token":
                    out["text"] += event.data
                elif event.kind == "done":
                    out = {"session_id": sid, **event.data.to_json(), "done": True}
                    out["products"] = self._public(out.get("products") or [])
                else:
                    continue
                yield dict(out)
        except StoreUnavailable as e:  # the store failed: the turn was not saved (and may not have run)
            log.error("API turn: sessions database unavailable: %s", e)
            words = "reply_not_saved" if out["text"] else "store_unavailable"
            yield {**out, "session_id": sid, "error": self.t(words), "done": True}
        except SessionError as e:
            log.exception("API turn failed")
            yield {**out, "session_id": sid, "error": str(e), "done": True}

    # -- layout --------------------------------------------------------------------------------------
    def blocks(self) -> gr.Blocks:
        """The Gradio Blocks of the widget (chat page, card actions, hidden API components)."""
        with gr.Blocks(title=self.t("title", shop_name=self.settings.shop_name), analytics_enabled=False) as demo:
            saved = gr.BrowserState(None, storage_key="daogou_session")
            ident = gr.State(None)
            shown = gr.State([])
            # Words are HTML-escaped and shown as they are (no Markdown, no LaTeX): a catalog title or reply with
            # ![x](http://...) must neither fetch a remote image in every shopper's browser nor become a link.
            chatbot = gr.Chatbot(elem_id="dg-chat", label=self.t("title", shop_name=self.settings.shop_name),
                                 height="65vh", sanitize_html=True, render_markdown=False, latex_delimiters=[],
                                 allow_tags=False, feedback_options=None, buttons=[],
                                 group_consecutive_messages=False)
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
                api_text = gr.Textbox(label="text", value="")
                api_image = gr.File(label="image", type="filepath", value=None, file_types=["image"])
                api_session = gr.Textbox(label="session_id", value="")
                api_out = gr.JSON(label="turn")
                api_btn = gr.Button("ask")
            outs = [chatbot, box, ident, shown, pick]
            # Handlers start at once and wait in the TurnGate (which bounds them and answers "busy" politely).
            turn = {"concurrency_id": "agent", "concurrency_limit": self.settings.ui_queue_size,
                    "api_visibility": "undocumented", "show_progress": "minimal"}
            box.submit(self.chat, [box, chatbot, ident, shown], outs, api_name="chat", **turn)
            for btn, action in ((ask_btn, "ask"), (similar_btn, "similar"), (copy_btn, "copy")):
                btn.click(self.act(action), [pick, chatbot, ident, shown], outs, api_name=f"card_{action}", **turn)
            new_btn.click(self.new_chat, [ident], [ident, saved, chatbot, shown, pick], api_visibility="private")
            demo.load(self.on_load, [saved], [ident, saved, chatbot, shown, pick], api_visibility="private")
            ident.change(lambda v: v, [ident], [saved], api_visibility="private")
            api_btn.click(self.ask, [api_text, api_image, api_session], api_out, api_name="ask", preprocess=False,
                          concurrency_id="agent", concurrency_limit=self.settings.ui_queue_size)
        demo.max_threads = self.settings.ui_queue_size + 16  # waiting turns hold a worker thread each
        confine_file_inputs(demo, self.uploads, str)
        return demo.queue(default_concurrency_limit=4, max_size=self.settings.ui_queue_size * 2, api_open=False)


def _message_parts(message: dict[str, Any] | str | None) -> tuple[str, list[str]]:
    """(text, file paths) of a MultimodalTextbox value (or plain text); other types count as empty."""
    if isinstance(message, str):
        return _clean(message), []
    if not isinstance(message, dict):
        return "", []
    text = message.get("text")
    files = message.get("files") or []
    paths = [f if isinstance(f, str) else str((f or {}).get("path", "")) for f in files
             if isinstance(f, str | dict)] if isinstance(files, list) else []
    return (_clean(text) if isinstance(text, str) else ""), paths


def _clean(text: str) -> str:
    """`text` with lone surrogates (which JSON may carry but UTF-8 cannot) replaced by '?'."""
    return text.encode("utf-8", "replace").decode("utf-8")


def image_url(product_id: str, root: str = "") -> str:
    """Where the app serves a product's picture: `<root>/images/<id>` (the id URL-quoted), relative to the host."""
    return f"{root}/images/{quote(product_id, safe='')}"


def _is_url(image: str) -> bool:
    return image.lower().startswith(("http://", "https://"))


def _api_type_error(text: object, image: object, session_id: object) -> str | None:
    """Why the raw /ask values have the wrong types (naming the field and the fix), or None."""
    if text is not None and not isinstance(text, str):
        return f"text must be a string, not {type(text).__name__}"
    if image is not None and not (isinstance(image, dict) and isinstance(image.get("path"), str)):
        return (f"image must be an uploaded file or null, not {type(image).__name__}; "
                "upload it with gradio_client's handle_file(path)")
    if session_id is not None and not isinstance(session_id, str):
        return f"session_id must be a string (\"\" starts a session), not {type(session_id).__name__}"
    return None


def _file_path(file_data: object) -> str:
    """The path of a FileData value (already confined to the upload folder by Gradio's preprocessing)."""
    return str(file_data["path"]) if isinstance(file_data, dict) else str(file_data)


def _public(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat messages without our private bookkeeping keys."""
    return [{k: v for k, v in m.items() if k != "raw"} for m in history]
