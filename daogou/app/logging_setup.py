"""Logging for daogou with nothing personal in it: one `configure_logging(level)` and a redacting filter.

The rule, for everyone who writes a log call in daogou:

1. Never log what a shopper typed or what the assistant answered. Log sizes, counts, tool names,
   product ids and timings instead (``log.info("turn: %d chars, %d products", len(text), n)``).
2. Never log a raw user id or session id. Log ``pseudonym(user_id)``: a short keyed hash
   (``u_3f9a0c1d2b4e``) that tells log lines of one shopper apart without naming them.
3. Personal fields handed over through ``extra=`` must use the names in `PERSONAL_FIELDS`; the filter
   replaces ids by their pseudonym and text by ``<redacted N chars>``.

As a safety net, `RedactingFilter` (installed on the handler by `configure_logging`, so it sees every
record that reaches the root logger, daogou's and third-party libraries' alike; it also joins handlers
already on the root logger) rewrites each record's message, arguments, exception
text and stack text: e-mail addresses -> ``<email>``, phone numbers -> ``<phone>``, Chinese ID-card
numbers -> ``<id-number>``, card-like digit runs (13-19 digits) -> ``<card>``, non-loopback IPv4
addresses -> ``<ip>``, and the value after ``user_id=`` / ``session_id=`` (or ``user=``, ``session=``,
with ``:`` too) -> its pseudonym. The net is pattern matching, not a guarantee; rule 1 still holds.

Pseudonyms are HMAC-SHA256 under a salt. By default the salt is random per process, so pseudonyms cannot
be joined across restarts or with another install's logs; pass ``salt=`` to `configure_logging` (e.g.
from a secret the operator keeps) to make them stable across restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import sys
import threading
from collections.abc import Callable
from typing import TextIO

__all__ = ["PERSONAL_FIELDS", "RedactingFilter", "configure_logging", "pseudonym", "redact"]

PERSONAL_FIELDS = frozenset({"user_id", "session_id", "text", "content", "message_text", "query"})
_ID_FIELDS = frozenset({"user_id", "session_id"})
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_salt_lock = threading.Lock()
_salt: bytes | None = None  # drawn on first use, not at import


def _get_salt() -> bytes:
    global _salt
    with _salt_lock:
        if _salt is None:
            _salt = secrets.token_bytes(32)
        return _salt


def _set_salt(salt: str | bytes) -> None:
    global _salt
    raw = salt.encode("utf-8") if isinstance(salt, str) else bytes(salt)
    if len(raw) < 16:
        raise ValueError(f"log salt of {len(raw)} bytes is too short to hide user ids; use at least 16 "
                         "random bytes (e.g. `python -c 'import secrets; print(secrets.token_hex(16))'`)")
    with _salt_lock:
        _salt = raw


def pseudonym(user_id: str) -> str:
    """A short salted hash of a user or session id, safe to log: ``u_`` + 12 hex digits."""
    digest = hmac.new(_get_salt(), str(user_id).encode("utf-8", "replace"), hashlib.sha256).hexdigest()
    return f"u_{digest[:12]}"


def _ipv4(m: re.Match[str]) -> str:
    ip = m.group(0)
    if ip.startswith("127.") or ip == "0.0.0.0" or any(int(p) > 255 for p in ip.split(".")):
        return ip
    return "<ip>"


# Order matters: the specific patterns run before the generic digit runs.
_PATTERNS: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"(?i)\b(user_id|session_id|user|session)(\s*=\s*|(?<=_id)\s*:\s*)['\"]?(?!u_[0-9a-f]{12}\b)"
                r"([A-Za-z0-9_.:@+-]{1,128})"),
     lambda m: f"{m.group(1)}{m.group(2)}{pseudonym(m.group(3))}"),  # only `_id` names may use ":"
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "<email>"),
    (re.compile(r"(?<![\dA-Za-z])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
                r"(?![\dA-Za-z])"), "<id-number>"),
    (re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)"), "<phone>"),  # CN mobile
    (re.compile(r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?!\d)"), "<phone>"),  # international
    (re.compile(r"(?<!\d)(?:\(\d{3}\)\s?|\d{3}[.\s-])\d{3}[.\s-]\d{4}(?!\d)"), "<phone>"),  # NANP style
    (re.compile(r"(?<![\d.])0\d{2,3}-\d{7,8}(?!\d)"), "<phone>"),  # CN landline with area code
    (re.compile(r"(?<!\d)\d(?:[\s-]?\d){12,18}(?!\d)"), "<card>"),
    (re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])"), _ipv4),
]


def redact(text: str) -> str:
    """`text` with e-mails, phone/ID/card numbers, public IPs and ``user_id=...`` values replaced."""
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites every record so that nothing personal reaches a handler (see the module docstring).

    Attach it to handlers, not loggers: a logger's filters do not see records propagated from children.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place (once, however many handlers carry the filter); never drops it."""
        if getattr(record, "_daogou_redacted", False):
            return True
        record._daogou_redacted = True
        try:
            message = record.getMessage()
        except (TypeError, ValueError) as e:  # a bad %-format must not leak the raw args either
            message = f"<unformattable log message: {type(e).__name__}>"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name in PERSONAL_FIELDS & record.__dict__.keys():
            value = record.__dict__[name]
            if name in _ID_FIELDS:
                record.__dict__[name] = pseudonym(str(value))
            else:
                record.__dict__[name] = f"<redacted {len(str(value))} chars>"
        return True


class _DaogouHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler `configure_logging` installed, so that calling it again replaces it."""


def configure_logging(level: int | str = "INFO", *, salt: str | bytes | None = None,
                      stream: TextIO | None = None) -> logging.Handler:
    """Send log records at `level` and above to `stream` (stderr), redacted; returns the handler.

    Safe to call more than once: the handler from an earlier call is replaced. Handlers already on the
    root logger get a `RedactingFilter` too. `salt` fixes the key of `pseudonym` (at least 16 bytes);
    without it pseudonyms differ from one process to the next.
    """
    if isinstance(level, str):
        name = level.strip().upper()
        if name not in _LEVELS:
            raise ValueError(f"unknown log level {level!r}; use one of {', '.join(_LEVELS)}")
        level = logging.getLevelName(name)
    if salt is not None:
        _set_salt(salt)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _DaogouHandler)]:
        root.removeHandler(old)
        old.close()
    for other in root.handlers:  # handlers someone else put on the root logger get the net too
        if not any(isinstance(f, RedactingFilter) for f in other.filters):
            other.addFilter(RedactingFilter())
    handler = _DaogouHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return handler
