"""One shopper's conversation: the agent plus the stored state and history of their session (SQLite).

A turn is stored whole when it ends (`SessionStore.save_turn`: message, reply with products, state and
interactions in one transaction), so a server killed mid-turn leaves the session as it was before the turn.
The dialogue state is bounded here, at the app's boundary, so a long session never outgrows what the store
accepts: `bound_state` keeps the products the shopper can still refer to plus the most recently shown ones,
and the last numbers they typed; only the shopper's latest interactions are loaded into a turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image

from daogou.agent.agent import Agent, TurnEvent, TurnResult
from daogou.agent.state import DialogueState
from daogou.app.cli_user import sessions_path
from daogou.app.session_store import SessionStore
from daogou.settings import Settings

__all__ = ["MAX_INTERACTIONS", "MAX_SEEN_PRODUCTS", "MAX_USER_NUMBERS", "ChatSession", "bound_state"]

_VIEW_TOOLS = {"product_details": "viewed", "answer_about_product": "viewed", "write_copy": "viewed"}
MAX_SEEN_PRODUCTS = 200  # products remembered for grounding: those referable now plus the most recently shown
MAX_USER_NUMBERS = 100  # the shopper's last numbers kept for grounding
MAX_INTERACTIONS = 500  # the shopper's latest interactions (all sessions) loaded into a turn


def bound_state(state: DialogueState, shown_now: list[str] | None = None) -> DialogueState:
    """Trim `state` in place to the bounds above; `shown_now` (ids shown this turn) count as most recent."""
    seen = state.catalog_seen
    for pid in shown_now or []:
        if pid in seen:
            seen[pid] = seen.pop(pid)  # most recently shown last
    if len(seen) > MAX_SEEN_PRODUCTS:
        keep = {*state.shown, state.focus, state.anchor} | set(list(seen)[-MAX_SEEN_PRODUCTS:])
        state.catalog_seen = {pid: p for pid, p in seen.items() if pid in keep}
    del state.user_numbers[:-MAX_USER_NUMBERS]
    return state


@dataclass
class ChatSession:
    """Runs turns for one (user, session), loading and saving the dialogue state around each turn."""

    agent: Agent
    sessions: SessionStore
    user_id: str
    session_id: str

    @classmethod
    def open(cls, settings: Settings, *, user_id: str = "local", session_id: str | None = None,
             agent: Agent | None = None, sessions: SessionStore | None = None) -> ChatSession:
        """A session of `user_id` (new, or `session_id` continued) over the configured agent."""
        if agent is None:
            from daogou.assistant import build_agent

            agent = build_agent(settings)
        sessions = sessions or SessionStore(sessions_path(settings))
        sid = sessions.ensure_session(user_id, session_id)
        return cls(agent=agent, sessions=sessions, user_id=user_id, session_id=sid)

    def state(self) -> DialogueState:
        """The stored dialogue state, with the user's latest interactions from every session."""
        raw = self.sessions.load_state(self.session_id)
        state = bound_state(DialogueState.model_validate(raw) if raw else DialogueState())
        state.interactions = [(i["product_id"], i["event"])
                              for i in self.sessions.interactions(self.user_id, limit=MAX_INTERACTIONS)]
        return state

    def stream_turn(self, text: str, image: Image.Image | None = None) -> Iterator[TurnEvent]:
        """Stream one turn; when it is done, store it whole (the store's errors are raised after the events)."""
        state = self.state()
        known = len(state.interactions)
        for event in self.agent.stream_turn(state, text, image):
            if event.kind == "done":
                self._store(state, known, text or ("[image]" if image is not None else ""), event.data)
            yield event

    def run_turn(self, text: str, image: Image.Image | None = None) -> TurnResult:
        """Run one turn to the end and return its result."""
        result = None
        for event in self.stream_turn(text, image):
            if event.kind == "done":
                result = event.data
        if result is None:  # pragma: no cover
            raise RuntimeError("turn ended without a result")
        return result

    def _store(self, state: DialogueState, known: int, text: str, result: TurnResult) -> None:
        events = [(self.user_id, pid, event) for pid, event in state.interactions[known:]]
        for call in result.tool_calls:
            event = _VIEW_TOOLS.get(call["name"])
            if event and call["args"].get("product_id"):
                events.append((self.user_id, call["args"]["product_id"], event))
        saved = bound_state(state, [p["id"] for p in result.products]).model_dump(mode="json")
        saved.pop("interactions", None)  # kept per user in the interactions table
        self.sessions.save_turn(self.session_id, user_text=text, reply_text=result.text, products=result.products,
                                state=saved, interactions=events)
