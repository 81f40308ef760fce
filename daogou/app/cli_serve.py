"""`daogou serve`: start the Gradio shopping widget (chat page, embeddable widget, API) on one port."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from daogou.settings import Settings

__all__ = ["serve"]


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 7860,
    root_path: Annotated[str | None, typer.Option("--root-path", help="Serve under this sub-path, e.g. "
                                                  "/shop/assistant (default $DAOGOU_UI_ROOT_PATH or /).")] = None,
    lang: Annotated[str | None, typer.Option(help="Widget language: zh or en (default $DAOGOU_UI_LANG or zh).")]
    = None,
    allow_origin: Annotated[list[str] | None, typer.Option("--allow-origin", help="A site that may embed the "
                                                           "widget, e.g. https://shop.example (repeat; * = any; "
                                                           "default $DAOGOU_UI_ORIGINS).")] = None,
    store: Annotated[Path | None, typer.Option("--store", help="Chroma store folder.")] = None,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Fixed sentences only, no language model.")] = False,
) -> None:
    """Start the shopping widget: chat page at http://HOST:PORT/ (plus --root-path), API for gradio_client."""
    import uvicorn

    from daogou.app.cli_user import sessions_path
    from daogou.app.session_store import SessionStore
    from daogou.app.webapp import create_app
    from daogou.assistant import build_agent

    try:
        settings = Settings.from_env(store_dir=store, ui_root_path=root_path, ui_lang=lang,
                                     ui_allowed_origins=tuple(o.rstrip("/") for o in allow_origin)
                                     if allow_origin else None, llm="none" if no_llm else None)
    except ValueError as e:
        typer.secho(f"error: {e}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from e
    agent = build_agent(settings)
    app = create_app(settings, agent, SessionStore(sessions_path(settings)))
    typer.echo(f"daogou widget: http://{host}:{port}{settings.ui_root_path}/", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
