"""`create_app`: the widget's Blocks served by FastAPI at the configured sub-path, behind the HTTP gate.

The app: the `AccessGuard` (API key, one bounded photo per upload request), CORS for the listed embedding sites
(the web component), ``frame-ancestors`` for iframes, Gradio's web component loader from this server, the
products' pictures at ``<root>/images/<id>`` (the API's ``products[].image``: never a path of this server's disk),
redirects for a sub-path, and a background task that deletes old uploads. Gradio's upload folder
(``GRADIO_TEMP_DIR``, read by Gradio per request) is pointed at ``<home>/uploads/incoming`` for this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import gradio as gr
from fastapi import FastAPI, HTTPException
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, RedirectResponse, Response

from daogou.agent.agent import Agent
from daogou.app.access import AccessGuard
from daogou.app.admission import RateLimiter
from daogou.app.cards_html import CARD_CSS
from daogou.app.session_store import SessionStore
from daogou.app.webapp import ShopWidget
from daogou.settings import Settings

__all__ = ["create_app"]

GRADIO_JS = Path(gr.__file__).parent / "templates" / "frontend" / "gradio.js"  # imports ./assets/index-*.js
SWEEP_EVERY_S = 60  # how often old uploads are deleted
PAGE_CSS = CARD_CSS + """
#dg-chat{min-height:360px}
.dg-actions button{min-width:0}
footer{display:none !important}
"""


def create_app(settings: Settings, agent: Agent, sessions: SessionStore) -> FastAPI:
    """The FastAPI app: the widget mounted at `settings.ui_root_path` ("/" when empty), with the embedding rules
    and the HTTP gate; old uploads are deleted every `SWEEP_EVERY_S` while it runs."""
    root = settings.ui_root_path
    origins = list(settings.ui_allowed_origins)
    widget = ShopWidget(settings, agent, sessions)
    widget.uploads.create()
    os.environ["GRADIO_TEMP_DIR"] = str(widget.uploads.incoming)  # before any Gradio block is made

    @contextlib.asynccontextmanager
    async def sweeping(_app: FastAPI) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                await asyncio.to_thread(widget.uploads.sweep)
                await asyncio.sleep(SWEEP_EVERY_S)
        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()

    app = FastAPI(title="daogou", lifespan=sweeping, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.daogou_widget = widget
    # Gradio leaves CORS to a parent app that configures it: only the listed sites may drive the web component.
    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials="*" not in origins,
                       allow_methods=["*"], allow_headers=["*"])
    ancestors = "*" if "*" in origins else " ".join(["'self'", *origins])

    @app.middleware("http")
    async def frame_ancestors(request, call_next):  # iframes: only the listed sites may embed the page
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = f"frame-ancestors {ancestors}"
        return response

    @app.get(f"{root}/gradio.js", include_in_schema=False)
    def web_component() -> FileResponse:  # Gradio's web component loader, from this server (no third-party host)
        return FileResponse(GRADIO_JS, media_type="text/javascript")

    @app.get(f"{root}/images/{{product_id:path}}", include_in_schema=False)
    def product_image(product_id: str) -> Response:  # the `image` of the API's products: the picture, not its path
        data = widget.product_image(product_id)
        if data is None:
            raise HTTPException(404, f"no picture of product {product_id!r} on this server")
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=3600"})

    if root:
        @app.get("/", include_in_schema=False)
        def to_root() -> RedirectResponse:
            return RedirectResponse(root + "/")

        @app.get("/assets/{path:path}", include_in_schema=False)
        def to_assets(path: str) -> RedirectResponse:  # the web component preloads its CSS from /assets/ at the host
            return RedirectResponse(f"{root}/assets/{path}")

    app = gr.mount_gradio_app(app, widget.blocks(), path=root or "/", allowed_paths=[],
                              max_file_size=settings.ui_max_upload_bytes, css=PAGE_CSS, footer_links=[],
                              show_error=False, run_history=False)
    app.add_middleware(AccessGuard, api_key=settings.api_key, upload_path=f"{root}/gradio_api/upload",
                       max_upload_bytes=settings.ui_max_upload_bytes,
                       uploads=RateLimiter(settings.ui_rate_per_min, settings.ui_rate_burst))
    return app
