"""The HTTP gate of `daogou serve`, before Gradio sees a request: the API key, and a bounded upload route.

`AccessGuard` is a plain ASGI middleware around the whole app:

- With an API key configured (``DAOGOU_API_KEY`` / ``--api-key-file``), every request must carry it, as
  ``X-Api-Key: KEY`` or ``Authorization: Bearer KEY``; otherwise 401. The shop's own server (or its reverse
  proxy) adds the header, so the key never reaches a shopper's browser. CORS preflights pass (they carry no
  headers of ours); the request that follows them does not.
- The upload route takes one photo per request, at most ``ui_max_upload_bytes`` (plus the form's framing), and
  at most the client's upload rate: 1000 files in one request, a 2 GB body or a flood get 400 / 413 / 429
  with a message, before anything is written to disk.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from daogou.app.admission import RateLimiter

__all__ = ["AccessGuard", "client_address", "is_loopback", "key_tag"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FORM_OVERHEAD = 64 * 1024  # multipart framing around one file: boundary lines, headers, the file name


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server on this machine only ("localhost", 127.x, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def key_tag(api_key: str | None) -> str:
    """A short non-reversible tag of the API key (who holds it is one client), "" without a key."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:12] if api_key else ""


def client_address(scope: Scope) -> str:
    """The client's address as the server sees it (uvicorn applies X-Forwarded-For from trusted proxies)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def presented_key(scope: Scope) -> str | None:
    """The API key a request carries (X-Api-Key, or Authorization: Bearer), if any."""
    key = _header(scope, b"x-api-key")
    if key:
        return key.strip()
    auth = _header(scope, b"authorization") or ""
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _reply(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"error": message}, ensure_ascii=False).encode("utf-8")
    raw = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class AccessGuard:
    """ASGI middleware: API key on every request, one bounded, rate-limited photo per upload request."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, upload_path: str, max_upload_bytes: int,
                 uploads: RateLimiter) -> None:
        self.app = app
        self.api_key = api_key
        self.upload_path = upload_path
        self.max_body = max_upload_bytes + FORM_OVERHEAD
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the key, bound the upload route, pass everything else on unchanged."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if self.api_key and scope.get("method") != "OPTIONS":
            got = presented_key(scope)
            if got is None or not hmac.compare_digest(got.encode("utf-8"), self.api_key.encode("utf-8")):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await _reply(send, 401, "this server needs an API key: send it as 'X-Api-Key: KEY' or "
                             "'Authorization: Bearer KEY' (gradio_client: Client(url, headers={'X-Api-Key': KEY}))",
                             {"WWW-Authenticate": "Bearer"})
                return
        if scope["type"] == "http" and scope.get("method") == "POST" and scope.get("path") == self.upload_path:
            await self._upload(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        wait = self.uploads.take(client_address(scope))
        if wait:
            await _reply(send, 429, f"too many uploads from this address; try again in {wait:.0f} s",
                         {"Retry-After": str(max(1, round(wait)))})
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await _reply(send, 413, f"an upload may be at most {self.max_body - FORM_OVERHEAD:,} bytes "
                         f"(this one declares {declared}); send a smaller photo")
            return
        ctype = _header(scope, b"content-type") or ""
        boundary = ctype.partition("boundary=")[2].split(";")[0].strip().strip('"').encode("latin-1")
        if not ctype.lower().startswith("multipart/form-data") or not boundary:
            await _reply(send, 400, "an upload must be multipart/form-data with one file under 'files'")
            return
        body = bytearray()
        while True:  # read it all first (bounded): nothing reaches Gradio's parser, or the disk, unless it passes
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await _reply(send, 413, f"an upload may be at most {self.max_body - FORM_OVERHEAD:,} bytes; "
                             "send a smaller photo")
                return
            if not message.get("more_body", False):
                break
        parts = body.count(b"--" + boundary) - 1  # n parts have n + 1 delimiters (the last one closes)
        if parts != 1:
            await _reply(send, 400, f"one photo per upload, this request has {parts} parts; upload files one "
                         "at a time")
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)
