"""One shopper's conversation: the agent plus the stored state and history of their session (SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image

from daogou.agent.agent import Agent, TurnEvent, TurnResult
from daogou.agent.state import DialogueState
from daogou.app.cli_user import sessions_path
from daogou.app.session_store import SessionStore
from daogou.settings import Settings

__all__ = ["ChatSession"]

_VIEW_TOOLS = {"product_details": "viewed", "answer_about_product": "viewed", "write_copy": "viewed"}


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
        """The stored dialogue state, with the user's interactions from every session."""
        raw = self.sessions.load_state(self.session_id)
        state = DialogueState.model_validate(raw) if raw else DialogueState()
        state.interactions = [(i["product_id"], i["event"]) for i in self.sessions.interactions(self.user_id)]
        return state

    def stream_turn(self, text: str, image: Image.Image | None = None) -> Iterator[TurnEvent]:
        """Stream one turn and store it (message, reply with products, state, new interactions)."""
        state = self.state()
        known = len(state.interactions)
        self.sessions.append_message(self.session_id, "user", text or ("[image]" if image is not None else ""))
        for event in self.agent.stream_turn(state, text, image):
            if event.kind == "done":
                self._store(state, known, event.data)
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

    def _store(self, state: DialogueState, known: int, result: TurnResult) -> None:
        for pid, event in state.interactions[known:]:
            self.sessions.record_interaction(self.user_id, pid, event)
        for call in result.tool_calls:
            event = _VIEW_TOOLS.get(call["name"])
            if event and call["args"].get("product_id"):
                self.sessions.record_interaction(self.user_id, call["args"]["product_id"], event)
        self.sessions.append_message(self.session_id, "assistant", result.text, result.products)
        saved = state.model_dump(mode="json")
        saved.pop("interactions", None)  # kept per user in the interactions table
        self.sessions.save_state(self.session_id, saved)
