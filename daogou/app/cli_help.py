"""`--help` that reads like a conventional tool's: `Usage: daogou ingest [OPTIONS] CATALOG...`, named option values.

Typer's own rendering labels every parameter with its Python type (`--strict <bool>`, `--user <str>`) and writes
required arguments as `{paths}...`. `use_plain_help(app)` gives every command and group of a Typer app (its
sub-apps included) the classes below, which write click's plain layout instead: flags bare, option values by
metavar (the option's `metavar=`, else its name upper-cased: `--user USER`), defaults only where they say something,
number ranges, and arguments by metavar (`CATALOG...`, `[QUERY]`).
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.models import DefaultPlaceholder

# Typer ships its own copy of click; the context and formatter below are its types, used only by their methods.
_Context = Any
_Formatter = Any

__all__ = ["PlainCommand", "PlainGroup", "use_plain_help"]


def _argument_name(p: TyperArgument) -> str:
    name = p.metavar or (p.name or "").upper()
    name += "..." if p.nargs != 1 else ""
    return name if p.required else f"[{name}]"


def _option_names(p: TyperOption) -> str:
    names = ", ".join(sorted(p.opts, key=lambda o: (o.startswith("--"), o)))  # "-q, --query"
    if p.secondary_opts and p.default is not False:  # on, or decided at run time: say how to turn it off
        names += " / " + ", ".join(p.secondary_opts)
    if not p.is_flag and not p.count:
        names += " " + (p.metavar or _type_metavar(p))
    return names


_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "Path": "PATH"}


def _type_metavar(p: TyperOption) -> str:
    """click's names for a value's type (TEXT, INTEGER, FLOAT, PATH), or the choices as [a|b]."""
    desc = p.type_descriptor
    if desc.is_choice and desc.choices:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices) + "]"
    name = p.bare_type().removeprefix("list[").removesuffix("]")
    return _TYPE_NAMES.get(name, name.upper())


def _default_text(p: TyperOption) -> str:
    if p.show_default is False:
        return ""
    if isinstance(p.show_default, str):
        return p.show_default
    default = p.default
    if p.is_flag:
        return p.opts[-1] if default is True and p.secondary_opts else ""
    if default is None or default == "" or default == () or default == [] or callable(default):
        return ""
    if isinstance(default, list | tuple):
        return ", ".join(map(str, default))
    return str(default)


def _option_help(p: TyperOption) -> str:
    extra = []
    default = _default_text(p)
    if default:
        extra.append(f"default: {default}")
    range_text = getattr(p, "_get_number_range_help_str", lambda: None)()
    if range_text:
        extra.append(range_text)
    if p.required:
        extra.append("required")
    help_text = p.help or ""
    return f"{help_text}  [{'; '.join(extra)}]" if extra else help_text


def _format_params(cmd: TyperCommand | TyperGroup, ctx: _Context, formatter: _Formatter) -> None:
    params = [p for p in cmd.get_params(ctx) if not getattr(p, "hidden", False)]
    args = [(_argument_name(p), getattr(p, "help", None) or "") for p in params if p.param_type_name == "argument"]
    opts = [(_option_names(p), _option_help(p)) for p in params if p.param_type_name == "option"]
    for title, rows in (("Arguments", args), ("Options", opts)):
        if rows:
            with formatter.section(title):
                formatter.write_dl(rows)


class PlainCommand(TyperCommand):
    """A Typer command whose help is click's plain layout (see the module docstring)."""

    def collect_usage_pieces(self, ctx: _Context) -> list[str]:  # noqa: D102
        pieces = [self.options_metavar] if self.options_metavar else []
        return pieces + [_argument_name(p) for p in self.get_params(ctx) if p.param_type_name == "argument"]

    def format_help(self, ctx: _Context, formatter: _Formatter) -> None:  # noqa: D102
        super(TyperCommand, self).format_help(ctx, formatter)  # click's plain layout, not Typer's Rich one

    def format_options(self, ctx: _Context, formatter: _Formatter) -> None:  # noqa: D102
        _format_params(self, ctx, formatter)


class PlainGroup(TyperGroup):
    """A Typer group whose help is click's plain layout (see the module docstring)."""

    def format_help(self, ctx: _Context, formatter: _Formatter) -> None:  # noqa: D102
        super(TyperGroup, self).format_help(ctx, formatter)  # click's plain layout, not Typer's Rich one

    def format_options(self, ctx: _Context, formatter: _Formatter) -> None:  # noqa: D102
        _format_params(self, ctx, formatter)
        self.format_commands(ctx, formatter)


def _stock_class(cls: object, stock: type) -> bool:
    """True when `cls` is Typer's own default (unset, a DefaultPlaceholder, or the stock class itself)."""
    return cls is None or cls is stock or isinstance(cls, DefaultPlaceholder)


def use_plain_help(app: typer.Typer) -> typer.Typer:
    """Give every command and group of `app` (and of the apps added to it) the plain help classes.

    A command or group that already names a class of its own keeps it.
    """
    if _stock_class(app.info.cls, TyperGroup):
        app.info.cls = PlainGroup
    for command in app.registered_commands:
        if _stock_class(command.cls, TyperCommand):
            command.cls = PlainCommand
    for group in app.registered_groups:
        if _stock_class(group.cls, TyperGroup):
            group.cls = PlainGroup
        if group.typer_instance is not None:
            use_plain_help(group.typer_instance)
    return app

