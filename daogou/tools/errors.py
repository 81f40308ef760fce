"""Tool errors written for the model to recover from, and the product-id checks that raise them.

A `ToolError` message names the bad argument, the valid values and what to do next, because the chat
model reads it (the LangChain wrappers hand it back as the tool's output, never as a traceback):

    Unknown product id 'P9999'. Use an id from the products shown in this conversation, e.g. P1001, P1020.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from daogou.tools.catalog_index import CatalogIndex

__all__ = ["ToolError", "choice_error", "resolve_ids", "unknown_ids_error"]

_EXAMPLES = 3  # valid values quoted in a message


class ToolError(ValueError):
    """A tool was called with an argument it cannot use; the message tells the model how to fix the call."""


def _quote(values: Iterable[str], limit: int = 12) -> str:
    values = list(values)
    shown = ", ".join(values[:limit])
    return shown + (f" … ({len(values)} in all)" if len(values) > limit else "")


def choice_error(arg: str, value: object, valid: Sequence[str], hint: str = "") -> ToolError:
    """`ToolError` for an argument outside a closed set: "Unknown style 'x'. Valid: a, b. <hint>"."""
    msg = f"Unknown {arg} {value!r}. Valid values: {_quote(valid)}."
    return ToolError(f"{msg} {hint}".strip())


def unknown_ids_error(bad: Sequence[str], catalog_ids: Sequence[str]) -> ToolError:
    """`ToolError` for product ids the catalog does not hold, suggesting near spellings or real ids."""
    near: list[str] = []
    for b in bad:
        near += [i for i in difflib.get_close_matches(b, catalog_ids, n=2, cutoff=0.6) if i not in near]
    examples = near or list(catalog_ids[:_EXAMPLES])
    noun = "id" if len(bad) == 1 else "ids"
    shown = ", ".join(repr(b) for b in bad)
    tail = f", e.g. {', '.join(examples[:_EXAMPLES])}" if examples else " (the catalog is empty)"
    return ToolError(f"Unknown product {noun} {shown}. Use an id from the products shown in this "
                     f"conversation{tail}.")


def resolve_ids(index: CatalogIndex, raw_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split `raw_ids` into (known catalog ids, unknown ones), in the order given and without repeats.

    The model often changes the case or adds blanks ("p1001 "); such ids are mapped to the catalog's
    spelling when that is unambiguous.
    """
    index.refresh()
    lower: dict[str, str] = {}
    for pid in index.ids:
        lower.setdefault(pid.lower(), pid)
    known: list[str] = []
    unknown: list[str] = []
    for raw in raw_ids:
        s = str(raw).strip()
        pid = s if s in index.pos else lower.get(s.lower())
        if pid is None:
            if s not in unknown:
                unknown.append(s)
        elif pid not in known:
            known.append(pid)
    return known, unknown
