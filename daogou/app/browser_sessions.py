"""Which stored session a browser gets, and its history as Gradio chat messages (messages format)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from daogou.app.cards_html import ThumbnailCache, cards_html, escape_text
from daogou.app.session_store import SessionError, SessionStore

__all__ = ["BrowserIdentity", "history_messages", "restore_identity"]

WEB_USER_PREFIX = "web-"  # user ids of browser shoppers; each browser is its own anonymous user


@dataclass(frozen=True)
class BrowserIdentity:
    """The anonymous shopper behind one browser and their current session."""

    user_id: str
    session_id: str

    def to_saved(self) -> dict[str, str]:
        """What the browser keeps (localStorage via gr.BrowserState) to come back to this session."""
        return {"user": self.user_id, "session": self.session_id}


def restore_identity(store: SessionStore, saved: object, *, keep: bool) -> BrowserIdentity:
    """The browser's saved session when `keep` and it is valid and its own; otherwise a fresh user and session.

    Ids are random (uuid4), so one browser cannot guess another's; a saved session that belongs to another
    user, or a malformed value, gives a fresh identity instead of an error.
    """
    if keep and isinstance(saved, dict):
        user, session = saved.get("user"), saved.get("session")
        if isinstance(user, str) and user.startswith(WEB_USER_PREFIX) and isinstance(session, str):
            try:
                return BrowserIdentity(user, store.ensure_session(user, session))
            except SessionError:
                pass
    user = WEB_USER_PREFIX + uuid.uuid4().hex
    return BrowserIdentity(user, store.ensure_session(user))


def history_messages(store: SessionStore, session_id: str, lang: str,
                     thumbs: ThumbnailCache | None = None) -> list[dict[str, Any]]:
    """The stored conversation as chat messages: user text, then each reply's cards and words (all escaped)."""
    out: list[dict[str, Any]] = []
    for m in store.messages(session_id):
        if m["role"] == "user":
            out.append({"role": "user", "content": escape_text(m["content"])})
            continue
        if m["role"] != "assistant":
            continue
        if m["products"]:
            out.append({"role": "assistant", "content": cards_html(m["products"], lang, thumbs)})
        if m["content"]:
            out.append({"role": "assistant", "content": escape_text(m["content"])})
    return out
