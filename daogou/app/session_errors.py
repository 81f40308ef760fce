"""The errors of the sessions database, and the id rule: one place that says what went wrong and how to fix it.

`SessionError` is a bad value (id, role, event, state) or an unknown session; `StoreUnavailable` is the database
itself failing (full, locked, read-only, damaged), with the operator's fix in its message (`unavailable`).
"""

from __future__ import annotations

import re
import sqlite3

__all__ = ["SessionError", "StoreUnavailable", "unavailable", "validate_id"]

_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_ID_RULE = "1-128 characters of A-Z a-z 0-9 _ . : - (a UUID works)"


class SessionError(ValueError):
    """A bad id, role, event or state, an unknown session, or an unusable database; the message says which."""


class StoreUnavailable(SessionError):
    """The database cannot be used right now (full, locked, read-only, damaged); nothing was half-written."""


def unavailable(path: object, e: sqlite3.Error) -> StoreUnavailable:
    """The operator-facing reason and fix for a SQLite error on the sessions database at `path`."""
    text = str(e).lower()
    if "full" in text or getattr(e, "sqlite_errorcode", None) == 13:
        why = "the disk (or the database) is full; free some disk space, then it carries on by itself"
    elif "locked" in text or "busy" in text:
        why = "the file is locked by another program (a backup, an open sqlite3 shell?); close it and try again"
    elif "readonly" in text or "read-only" in text or "permission" in text or "unable to open" in text:
        why = "the file or its folder is read-only or missing; make it writable by this user"
    elif "malformed" in text or "not a database" in text or "corrupt" in text:
        why = "the file is damaged; move the file away (or restore a backup) and a new one is made"
    else:
        why = "check the disk and the file's permissions"
    return StoreUnavailable(f"the sessions database {path} cannot be used right now ({e}): {why}")


def validate_id(value: object, what: str = "user id") -> str:
    """Return `value` if it is a valid user/session id, else raise `SessionError` naming it and the rule."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        shown = repr(value) if not isinstance(value, str) or len(value) <= 60 else repr(value[:60]) + "..."
        raise SessionError(f"bad {what} {shown}: it must be {_ID_RULE}")
    return value
