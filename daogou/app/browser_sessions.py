"""Which stored session a browser (or an API client) gets, and a session's history as Gradio chat messages.

Session ids are issued by the server only: a browser's saved {"user", "session"} is honoured when that session
exists and belongs to that user; anything else (a made-up, foreign or malformed value) gives a fresh identity,
never a session with a client-chosen id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from daogou.app.cards_html import ThumbnailCache, cards_html, escape_text
from daogou.app.session_store import SessionError, SessionStore, StoreUnavailable

__all__ = ["WEB_USER_PREFIX", "BrowserIdentity", "history_messages", "restore_identity"]

WEB_USER_PREFIX = "web-"  # user ids of browser shoppers; each browser is its own anonymous user


@dataclass(frozen=True)
class BrowserIdentity:
    """The anonymous shopper behind one browser (or one API session) and their current session."""

    user_id: str
    session_id: str

    def to_saved(self) -> dict[str, str]:
        """What the browser keeps (localStorage via gr.BrowserState) to come back to this session."""
        return {"user": self.user_id, "session": self.session_id}


def restore_identity(store: SessionStore, saved: object, *, keep: bool, new_session: bool = False,
                     prefix: str = WEB_USER_PREFIX) -> BrowserIdentity:
    """The saved identity when `keep` and it is valid and its own; otherwise a fresh user and session.

    With `new_session`, the saved user (when valid) gets a new session. Ids are random (uuid4), so one browser
    cannot guess another's; `SessionError` from a bad saved value gives a fresh identity, while
    `StoreUnavailable` (the database itself is down) is raised.
    """
    if keep and isinstance(saved, dict):
        user, session = saved.get("user"), saved.get("session")
        if isinstance(user, str) and user.startswith(prefix) and isinstance(session, str):
            try:
                if store.session_owner(session) == user:
                    return BrowserIdentity(user, store.ensure_session(user) if new_session else session)
            except StoreUnavailable:
                raise
            except SessionError:
                pass
    user = prefix + uuid.uuid4().hex
    return BrowserIdentity(user, store.ensure_session(user))


def history_messages(messages: list[dict[str, Any]], lang: str,
                     thumbs: ThumbnailCache | None = None) -> list[dict[str, Any]]:
    """Stored messages (`SessionStore.messages`) as chat messages: user text, each reply's cards and words."""
    out: list[dict[str, Any]] = []
    for m in messages:
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
