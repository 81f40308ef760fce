"""`daogou serve`: start the Gradio shopping widget (chat page, embeddable widget, API) on one port.

On a loopback host (the default) no key is needed. On any other interface the server refuses to start without
an API key (``DAOGOU_API_KEY`` or ``--api-key-file``) unless ``--no-api-key`` says that is meant (a widget that
shoppers' browsers reach directly; the rate limits and the bounded queue still apply). Logs go through the
redacting filter (`configure_logging`); uvicorn's own loggers too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from daogou.app.cli_options import ChromaUrlOpt, StoreOpt
from daogou.settings import Settings

__all__ = ["serve"]


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0: every interface; needs an API key "
                                      "or --no-api-key).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 7860,
    root_path: Annotated[str | None, typer.Option("--root-path", help="Serve under this sub-path, e.g. "
                                                  "/shop/assistant (default $DAOGOU_UI_ROOT_PATH or /).")] = None,
    lang: Annotated[str | None, typer.Option(help="Widget language: zh or en (default $DAOGOU_UI_LANG or zh).")]
    = None,
    allow_origin: Annotated[list[str] | None, typer.Option("--allow-origin", help="A site that may embed the "
                                                           "widget, e.g. https://shop.example (repeat; * = any; "
                                                           "default $DAOGOU_UI_ORIGINS).")] = None,
    api_key_file: Annotated[Path | None, typer.Option("--api-key-file", help="Read the API key every request "
                                                      "must carry from this file (default $DAOGOU_API_KEY).")]
    = None,
    no_api_key: Annotated[bool, typer.Option("--no-api-key", help="Serve a non-loopback interface without an API "
                                             "key (shoppers' browsers reach it directly).")] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")] = "WARNING",
    store: StoreOpt = None,
    chroma_url: ChromaUrlOpt = None,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Fixed sentences only, no language model.")] = False,
) -> None:
    """Start the shopping widget: chat page at http://HOST:PORT/ (plus --root-path), API for gradio_client."""
    from daogou.app.access import is_loopback
    from daogou.app.logging_setup import configure_logging

    try:
        configure_logging(log_level)
        key = _read_key(api_key_file) if api_key_file else None
        settings = Settings.from_env(store_dir=store, chroma_url=chroma_url, ui_root_path=root_path, ui_lang=lang,
                                     api_key=key,
                                     ui_allowed_origins=tuple(o.rstrip("/") for o in allow_origin)
                                     if allow_origin else None, llm="none" if no_llm else None)
    except ValueError as e:
        typer.secho(f"error: {e}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from e
    if not settings.api_key and not is_loopback(host) and not no_api_key:
        typer.secho(f"error: --host {host} is reachable from other machines, and no API key is set: set "
                    "DAOGOU_API_KEY (or --api-key-file FILE) and have your server or reverse proxy send it as "
                    "X-Api-Key, or pass --no-api-key to serve shoppers' browsers directly without one",
                    err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    _run(settings, host, port)


def _read_key(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ValueError(f"cannot read the API key file {path}: {e.strerror or e}") from e


def _run(settings: Settings, host: str, port: int) -> None:
    """Build the agent and the app, then serve until stopped."""
    import uvicorn

    from daogou.app.cli_user import sessions_path
    from daogou.app.server import create_app
    from daogou.app.session_store import SessionStore
    from daogou.assistant import build_agent

    agent = build_agent(settings)
    app = create_app(settings, agent, SessionStore(sessions_path(settings), lazy=True))
    auth = "API key required" if settings.api_key else "no API key"
    typer.echo(f"daogou widget: http://{host}:{port}{settings.ui_root_path}/ ({auth})", err=True)
    # log_config=None: uvicorn's loggers propagate to the root handler, whose filter redacts them too
    # a stop (Ctrl-C, SIGTERM) waits at most 10 s for open streams, then closes them
    uvicorn.run(app, host=host, port=port, log_config=None, log_level="warning", timeout_graceful_shutdown=10)
