"""Who may start a turn now: per-client rate limits, a bounded number of turns in the house, one session in order.

`TurnGate.turn(client, session_id)` is a context manager around one turn. It refuses at once (raising `Busy`
with the reason and a retry hint) when the client has used up its rate, when `capacity` turns are already
admitted (running or waiting), or when the session already has a turn running and one waiting. Otherwise it
waits (at most `wait_s`) for the session's previous turn and then for one of `running` slots, runs the turn
and releases everything when the block ends: also when the generator around it is closed because the client
went away (Gradio closes it), so a vanished client holds neither the session nor a slot.

Nothing here grows without bound: per-session locks live only while a turn of that session is admitted, and
the rate buckets of idle clients are dropped (at most `max_clients` are kept).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Busy", "RateLimiter", "TurnGate"]

Reason = Literal["rate", "full", "session", "timeout"]


class Busy(Exception):
    """A turn that may not start now: `reason` says why, `retry_after_s` when to try again."""

    def __init__(self, reason: Reason, retry_after_s: float) -> None:
        super().__init__(f"turn refused ({reason}); retry in {retry_after_s:.0f} s")
        self.reason = reason
        self.retry_after_s = max(1.0, round(retry_after_s))


class RateLimiter:
    """Token buckets per client: `burst` at once, refilled at `per_min` a minute; `per_min` <= 0 turns it off."""

    def __init__(self, per_min: float, burst: int, *, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_min / 60.0
        self.burst = max(1, burst)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, time)
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Spend one token of `client`; returns 0 when allowed, else the seconds until a token is back."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[client] = (tokens - 1 if not wait else tokens, now)  # most recent last
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)  # the longest idle client: a fresh bucket if it returns
            return wait

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass
class _SessionSlot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    admitted: int = 0


class TurnGate:
    """Admission of turns (see the module docstring)."""

    def __init__(self, *, running: int, capacity: int, wait_s: float, limiter: RateLimiter,
                 per_session: int = 2) -> None:
        if running < 1 or capacity < running:
            raise ValueError(f"need 1 <= running ({running}) <= capacity ({capacity}); raise DAOGOU_UI_QUEUE_SIZE")
        self.capacity = capacity
        self.wait_s = wait_s
        self.limiter = limiter
        self.per_session = per_session
        self._slots = threading.BoundedSemaphore(running)
        self._guard = threading.Lock()
        self._admitted = 0
        self._sessions: dict[str, _SessionSlot] = {}

    @property
    def admitted(self) -> int:
        """Turns admitted now (running or waiting)."""
        return self._admitted

    @property
    def sessions_held(self) -> int:
        """Sessions with an admitted turn (the per-session lock table's size)."""
        return len(self._sessions)

    @contextmanager
    def turn(self, client: str, session_id: str) -> Iterator[None]:
        """Admit one turn of `session_id` for `client`, or raise `Busy` (see the module docstring)."""
        wait = self.limiter.take(client)
        if wait:
            raise Busy("rate", wait)
        with self._guard:
            if self._admitted >= self.capacity:
                raise Busy("full", self.wait_s / 4)
            slot = self._sessions.setdefault(session_id, _SessionSlot())
            if slot.admitted >= self.per_session:
                raise Busy("session", 5)
            slot.admitted += 1
            self._admitted += 1
        deadline = time.monotonic() + self.wait_s
        locked = slotted = False
        try:
            locked = slot.lock.acquire(timeout=self.wait_s)
            if not locked:
                raise Busy("timeout", 10)
            slotted = self._slots.acquire(timeout=max(0.0, deadline - time.monotonic()))
            if not slotted:
                raise Busy("timeout", 10)
            yield
        finally:
            if slotted:
                self._slots.release()
            if locked:
                slot.lock.release()
            with self._guard:
                self._admitted -= 1
                slot.admitted -= 1
                if slot.admitted == 0:
                    self._sessions.pop(session_id, None)
