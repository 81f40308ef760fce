"""TurnGate and RateLimiter: who may start a turn now, and that everything is given back (also on close)."""

from __future__ import annotations

import threading

import pytest

from daogou.app.admission import Busy, RateLimiter, TurnGate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_burst_then_refill_per_client():
    clock = Clock()
    rl = RateLimiter(per_min=6, burst=2, clock=clock)  # one token every 10 s
    assert [rl.take("a"), rl.take("a")] == [0, 0]
    assert rl.take("a") == pytest.approx(10)
    assert rl.take("b") == 0  # another client has its own bucket
    clock.now += 10
    assert rl.take("a") == 0 and rl.take("a") > 0


def test_rate_limiter_off_and_bounded():
    assert all(RateLimiter(per_min=0, burst=1).take("a") == 0 for _ in range(100))
    rl = RateLimiter(per_min=60, burst=1, max_clients=100)
    for i in range(1000):
        rl.take(f"client-{i}")
    assert len(rl) == 100


def _gate(**kw) -> TurnGate:
    args = {"running": 1, "capacity": 3, "wait_s": 5.0, "limiter": RateLimiter(per_min=0, burst=1)} | kw
    return TurnGate(**args)


def test_capacity_and_session_limits_refuse_at_once():
    gate = _gate(capacity=2)
    with gate.turn("a", "s1"):
        started = threading.Event()

        def second():  # waits for the session (one may wait)
            with gate.turn("a", "s1"):
                started.set()

        t = threading.Thread(target=second)
        t.start()
        while gate.admitted < 2:
            pass
        with pytest.raises(Busy) as full:  # two admitted = capacity
            with gate.turn("b", "s2"):
                pass
        assert full.value.reason == "full"
        assert not started.is_set()
    t.join(5)
    assert started.is_set() and gate.admitted == 0 and gate.sessions_held == 0


def test_a_third_turn_of_one_session_is_refused_not_parked():
    gate = _gate(capacity=10)
    release = threading.Event()
    threads = [threading.Thread(target=lambda: _hold(gate, "s1", release)) for _ in range(2)]
    for t in threads:
        t.start()
    while gate.admitted < 2:
        pass
    with pytest.raises(Busy) as third:
        with gate.turn("a", "s1"):
            pass
    assert third.value.reason == "session" and gate.admitted == 2
    release.set()
    for t in threads:
        t.join(5)
    assert gate.admitted == 0 and gate.sessions_held == 0


def _hold(gate: TurnGate, sid: str, release: threading.Event, entered: threading.Event | None = None) -> None:
    with gate.turn("a", sid):
        if entered is not None:
            entered.set()
        release.wait(5)


def test_waiting_too_long_is_busy_and_releases_its_place():
    gate = _gate(wait_s=0.2)
    release, entered = threading.Event(), threading.Event()
    t = threading.Thread(target=lambda: _hold(gate, "s1", release, entered))
    t.start()
    assert entered.wait(5)  # s1's turn holds the one running slot
    with pytest.raises(Busy) as late:
        with gate.turn("b", "s2"):  # the one running slot is taken
            pass
    assert late.value.reason == "timeout" and gate.admitted == 1
    release.set()
    t.join(5)
    assert gate.admitted == 0


def test_rate_refusal_counts_per_client():
    gate = _gate(limiter=RateLimiter(per_min=1, burst=1))
    with gate.turn("a", "s1"):
        pass
    with pytest.raises(Busy) as rate:
        with gate.turn("a", "s2"):
            pass
    assert rate.value.reason == "rate" and rate.value.retry_after_s >= 1
    with gate.turn("b", "s3"):
        pass


def test_a_closed_generator_gives_everything_back():
    """Gradio closes a turn's generator when its client goes away: the slot and the session are released."""
    gate = _gate()

    def turn():
        with gate.turn("a", "s1"):
            yield 1
            yield 2

    g = turn()
    assert next(g) == 1 and gate.admitted == 1 and gate.sessions_held == 1
    g.close()
    assert gate.admitted == 0 and gate.sessions_held == 0
    with gate.turn("a", "s1"):  # the session is free again
        pass


def test_an_error_in_a_turn_gives_everything_back():
    gate = _gate()
    with pytest.raises(RuntimeError):
        with gate.turn("a", "s1"):
            raise RuntimeError("boom")
    assert gate.admitted == 0 and gate.sessions_held == 0
