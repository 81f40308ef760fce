"""Command-line options that several `daogou` commands share: where the catalog store is."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["ChromaUrlOpt", "StoreOpt"]

StoreOpt = Annotated[Path | None, typer.Option("--store", metavar="DIR",
                                               help="Chroma store folder (default: $DAOGOU_STORE, else "
                                                    "$DAOGOU_HOME/store).")]
ChromaUrlOpt = Annotated[str | None, typer.Option(
    "--chroma-url", metavar="URL",
    help="A Chroma server instead of the folder, e.g. http://127.0.0.1:8000 (default: $DAOGOU_CHROMA_URL); "
         "start one with `chroma run --path DIR --port 8000`.")]
