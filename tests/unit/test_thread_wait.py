"""How OpenMP threads wait (DAOGOU_THREAD_WAIT): a short spin by default, passive on request, the user's own
OpenMP variables left alone, a bad value named with the choices."""

from __future__ import annotations

import os

import pytest

from daogou.model_files import set_thread_wait


@pytest.fixture
def env(monkeypatch):
    for var in ("DAOGOU_THREAD_WAIT", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_default_is_a_short_spin(env):
    set_thread_wait()
    assert os.environ["GOMP_SPINCOUNT"] == "1000" and "OMP_WAIT_POLICY" not in os.environ


def test_passive_on_request(env):
    env.setenv("DAOGOU_THREAD_WAIT", "Passive")
    set_thread_wait()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE" and "GOMP_SPINCOUNT" not in os.environ


def test_the_users_own_openmp_settings_win(env):
    env.setenv("OMP_WAIT_POLICY", "ACTIVE")
    set_thread_wait()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE" and "GOMP_SPINCOUNT" not in os.environ


def test_a_bad_value_names_the_choices(env):
    env.setenv("DAOGOU_THREAD_WAIT", "fast")
    with pytest.raises(ValueError, match="'fast'.*spin, passive"):
        set_thread_wait()
