"""`daogou user export|delete`: hand a shopper everything stored about them, or erase it.

Both read the sessions database at ``$DAOGOU_HOME/sessions.sqlite3``. Registered in the main CLI with
``app.add_typer(user_app, name="user")``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from daogou.app.session_store import SessionError, SessionStore, empty_export, validate_id
from daogou.settings import Settings

__all__ = ["SESSIONS_FILE", "sessions_path", "user_app"]

SESSIONS_FILE = "sessions.sqlite3"
EXIT_USAGE = 2  # bad id, or deletion refused for want of confirmation

user_app = typer.Typer(help="Export or delete everything stored about one shopper (sessions, messages, "
                            "dialogue state, product interactions, photos still on disk).", no_args_is_help=True)

UserIdArg = Annotated[str, typer.Argument(metavar="ID", help="The shopper's user id.")]


def sessions_path(settings: Settings) -> Path:
    """Where the sessions database of `settings` lives."""
    return settings.home / SESSIONS_FILE


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _check_id(user_id: str) -> None:
    try:
        validate_id(user_id)
    except SessionError as e:
        raise _fail(str(e), EXIT_USAGE) from e


def _open(path: Path) -> SessionStore:
    try:
        return SessionStore(path)
    except SessionError as e:
        raise _fail(str(e)) from e


def _summary(doc: dict[str, Any]) -> str:
    n_msgs = sum(len(s["messages"]) for s in doc["sessions"])
    return f"{len(doc['sessions'])} sessions, {n_msgs} messages, {len(doc['interactions'])} interactions"


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, readable by its owner only (it is personal data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _interactive() -> bool:
    """Whether a person can answer a confirmation prompt (a terminal on stdin, and not CI)."""
    return sys.stdin is not None and sys.stdin.isatty() and not os.environ.get("CI")


@user_app.command("export")
def export(
    user_id: UserIdArg,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the JSON here (owner-readable "
                                             "only) instead of stdout.")] = None,
) -> None:
    """Print (or write) everything stored about a shopper as JSON."""
    _check_id(user_id)
    path = sessions_path(Settings.from_env())
    if path.exists():
        with _open(path) as store:
            doc = store.export_user(user_id)
    else:  # nothing was ever stored; do not create a database just to say so
        doc = empty_export(user_id)
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    if out is None:
        typer.echo(text)
        return
    try:
        _write_private(out, text + "\n")
    except OSError as e:
        raise _fail(f"cannot write {out}: {e.strerror or e}; choose another --out path") from e
    typer.echo(f"wrote {out}: {_summary(doc)}", err=True)


@user_app.command("delete")
def delete(
    user_id: UserIdArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking (required when not "
                                      "run from a terminal, e.g. in scripts or CI).")] = False,
) -> None:
    """Erase everything stored about a shopper: sessions, messages, dialogue state, interactions and photos."""
    from daogou.app.uploads import UploadFolder, uploads_root

    _check_id(user_id)
    settings = Settings.from_env()
    path = sessions_path(settings)
    photos = UploadFolder(uploads_root(settings))
    if not path.exists():
        n = photos.purge_user(user_id)
        typer.echo(f"nothing stored about {user_id} (no sessions database yet)" + (f"; deleted {n} photos" if n
                                                                                     else ""))
        return
    with _open(path) as store:
        doc = store.export_user(user_id)
        if doc["created"] is None:
            n = photos.purge_user(user_id)
            typer.echo(f"nothing stored about {user_id}" + (f"; deleted {n} photos" if n else ""))
            return
        if not yes:
            if not _interactive():
                raise _fail(f"refusing to delete {user_id} without confirmation: no terminal to ask on; "
                            "pass --yes to confirm", EXIT_USAGE)
            if not typer.confirm(f"Delete everything stored about {user_id} ({_summary(doc)})? "
                                 "This cannot be undone.", default=False):
                typer.echo("nothing deleted", err=True)
                raise typer.Exit(1)
        counts = store.delete_user(user_id)
    n_photos = photos.purge_user(user_id)
    typer.echo(f"deleted {user_id}: {counts['sessions']} sessions, {counts['messages']} messages, "
               f"{counts['interactions']} interactions, {n_photos} photo{'s' if n_photos != 1 else ''}")
    if not counts["purged"]:
        typer.secho("warning: another process holds the sessions database open; the deleted rows are zeroed, "
                    "but old copies may stay in its write-ahead log until every process using it has closed it",
                    err=True, fg=typer.colors.YELLOW)
