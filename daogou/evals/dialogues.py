"""The scripted dialogue suite: YAML dialogues -> validated models -> run turn by turn -> per-behaviour report.

The agent is reached only through `turn_fn(session_id, text, image) -> dict`, the `daogou chat --json`
contract ({"text", "products", "tool_calls", "timings_ms"}), so any agent — real, fake, remote — can be
measured. The format is documented in tests/dialogues/README.md; the checks live in `dialogue_checks`.

    rows = load_catalog_rows([demo_dir / "catalog.jsonl", Path("tests/dialogues/catalog_extra.jsonl")])
    report = run_suite(agent_turn, [Path("tests/dialogues")], rows)
    print(format_report(report))
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from daogou.evals.dialogue_checks import TOOL_NAMES, CatalogFacts
from daogou.evals.dialogue_report import DialogueResult, Failure, SuiteReport, TurnResult, format_report
from daogou.evals.dialogue_run import REF, check_turn, literal_ids

__all__ = [
    "Dialogue",
    "DialogueFile",
    "DialogueFormatError",
    "Expect",
    "ProductChecks",
    "SuiteReport",
    "Turn",
    "TurnFn",
    "TurnResult",
    "catalog_problems",
    "format_report",
    "load_catalog_rows",
    "load_dialogues",
    "run_suite",
]

TurnFn = Callable[[str, str, Path | None], Mapping[str, Any]]
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class DialogueFormatError(ValueError):
    """A dialogue file that does not follow tests/dialogues/README.md; the message names file and dialogue."""


def _check_ref(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("@") and not REF.match(value):
        raise ValueError(f"{value!r} is not a reference; write @prev.2, @turn1.1.price, @prev.1.attr.材质, "
                         "@prev.ids, @prev.max_price or @prev.min_price")
    if isinstance(value, list | tuple):
        for v in value:
            _check_ref(v)
    if isinstance(value, dict):
        for v in value.values():
            _check_ref(v)
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProductChecks(_Strict):
    """Constraints every product shown in the turn must meet, plus counts and ids of the list as a whole."""

    price_max: float | str | None = None
    price_min: float | str | None = None
    price_below: float | str | None = None  # strictly below: "cheaper than what I saw" (@prev.max_price)
    category: str | list[str] | None = None  # one of these catalog categories
    color: str | list[str] | None = None  # the colour attribute (颜色/color/colour...) is one of these (zh or en)
    size: str | None = None  # the size attribute (尺码/size...) offers this size
    tag: str | list[str] | None = None  # the product's tags include one of these (product type: 连衣裙, sneakers)
    brand: str | None = None
    brand_not: list[str] | None = None
    in_stock: bool | None = None  # stock is not 0 (unknown stock passes)
    attributes: dict[str, str] | None = None  # attributes[key] (key in any case) contains value
    ids_exclude: list[str] | None = None
    include_ids: list[str] | None = None  # all of these are shown
    first_id: str | None = None
    min_count: int | None = Field(default=None, ge=0)  # default 1, or 0 when max_count is 0
    max_count: int | None = Field(default=None, ge=0)

    @field_validator("*", mode="after")
    @classmethod
    def _refs(cls, v: Any) -> Any:
        return _check_ref(v)

    @field_validator("brand_not", "ids_exclude", "include_ids", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class Expect(_Strict):
    """What one turn must show; see tests/dialogues/README.md. Every field is optional."""

    tools: list[str] | None = None  # exactly these tools were called ([] = no tool)
    tools_any_of: list[str] | None = None  # at least one of these was called
    tools_not: list[str] | None = None  # none of these was called
    args: dict[str, Any] | None = None  # some call of the expected tool(s) carries all these arguments
    args_absent: list[str] | None = None  # no call carries these (the model must not invent them)
    products: ProductChecks | None = None
    grounded: bool = True
    language: Literal["zh", "en", "any"] | None = None  # None: the dialogue's language
    text_contains_any: list[str] | None = None
    text_contains_all: list[str] | None = None
    text_not_contains: list[str] | None = None
    text_matches: list[str] | None = None  # regular expressions; at least one must match
    text_not_matches: list[str] | None = None  # regular expressions; none may match
    says_no_match: bool | None = None  # the reply says nothing (exactly) matches
    says_unknown: bool | None = None  # the reply says the catalog does not tell
    currency_ok: bool = True  # (default) every product price spoken carries that product's currency
    no_leak: bool = True  # (default) no instruction leakage ("the shopper", "Conditions:") and no broken characters
    no_echo: bool = True  # (default) a long shopper message is not repeated back verbatim

    @field_validator("args", "text_contains_any", "text_contains_all", mode="after")
    @classmethod
    def _refs(cls, v: Any) -> Any:
        return _check_ref(v)

    @field_validator("tools", "tools_any_of", "tools_not")
    @classmethod
    def _known_tools(cls, v: list[str] | None) -> list[str] | None:
        for name in v or []:
            if name not in TOOL_NAMES:
                raise ValueError(f"unknown tool {name!r}; valid: {', '.join(TOOL_NAMES)}")
        return v

    @field_validator("text_matches", "text_not_matches")
    @classmethod
    def _regexes(cls, v: list[str] | None) -> list[str] | None:
        for pattern in v or []:
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"{pattern!r} is not a regular expression: {e}") from e
        return v

    @model_validator(mode="after")
    def _one_tool_rule(self) -> Expect:
        if self.tools is not None and self.tools_any_of is not None:
            raise ValueError("give either tools (exact) or tools_any_of (alternatives), not both")
        if self.tools == [] and (self.args or self.args_absent):
            raise ValueError("tools: [] (no tool) cannot have args or args_absent")
        return self


class Turn(_Strict):
    """One shopper message and what the reply must satisfy."""

    user: str = Field(min_length=1)
    image: str | None = Field(default=None, min_length=1)  # a catalog product id: its image file is sent along
    expect: Expect = Field(default_factory=Expect)


class Dialogue(_Strict):
    """A scripted conversation of 2-6 turns about one behaviour."""

    id: str
    tags: list[str] = Field(min_length=1)
    language: Literal["zh", "en"]
    note: str = ""
    turns: list[Turn] = Field(min_length=2, max_length=6)

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError(f"id {v!r} must be lower-case letters, digits and dashes")
        return v

    @model_validator(mode="after")
    def _refs_point_back(self) -> Dialogue:
        for n, turn in enumerate(self.turns, 1):
            text = json.dumps(turn.expect.model_dump(mode="json"), ensure_ascii=False)
            for m in re.finditer(r"@turn(\d+)\.", text):
                if not 1 <= int(m.group(1)) < n:
                    raise ValueError(f"turn {n} refers to @turn{m.group(1)}; only earlier turns (1..{n - 1}) exist")
            if n == 1 and "@prev." in text:
                raise ValueError("turn 1 refers to @prev; there is no earlier turn")
        return self


class DialogueFile(_Strict):
    """One YAML file: a behaviour group and its dialogues."""

    group: str
    description: str = ""
    path: str = ""
    dialogues: list[Dialogue] = Field(min_length=1)


def _load_file(path: Path) -> DialogueFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise DialogueFormatError(f"{path.name}: cannot read YAML: {e}") from e
    if not isinstance(raw, dict) or not isinstance(raw.get("dialogues"), list):
        raise DialogueFormatError(f"{path.name}: expected a mapping with 'group' and a 'dialogues' list")
    if raw.get("group") != path.stem:
        raise DialogueFormatError(f"{path.name}: group is {raw.get('group')!r}; set it to the file name "
                                  f"{path.stem!r}")
    unknown = set(raw) - {"group", "description", "dialogues"}
    if unknown:
        raise DialogueFormatError(f"{path.name}: unknown top-level keys {sorted(unknown)}")
    dialogues = []
    for i, item in enumerate(raw["dialogues"], 1):
        name = item.get("id", f"#{i}") if isinstance(item, dict) else f"#{i}"
        try:
            dialogues.append(Dialogue.model_validate(item))
        except ValidationError as e:
            reasons = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'dialogue'}: "
                                f"{err['msg'].removeprefix('Value error, ')}" for err in e.errors())
            raise DialogueFormatError(f"{path.name}: dialogue {name!r}: {reasons}") from e
    return DialogueFile(group=raw["group"], description=raw.get("description") or "", path=str(path),
                        dialogues=dialogues)


def load_dialogues(paths: Iterable[Path]) -> list[DialogueFile]:
    """Load and validate dialogue files (a folder means all its *.yaml); dialogue ids must be unique."""
    paths = [Path(p) for p in paths]
    files: list[Path] = []
    for p in paths:
        files += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    if not files:
        raise DialogueFormatError(f"no dialogue files in {[str(p) for p in paths]}; pass *.yaml files or folders")
    loaded = [_load_file(f) for f in files]
    seen: dict[str, str] = {}
    for df in loaded:
        for d in df.dialogues:
            if d.id in seen:
                raise DialogueFormatError(f"{Path(df.path).name}: dialogue id {d.id!r} is also used in {seen[d.id]}")
            seen[d.id] = Path(df.path).name
    return loaded


def load_catalog_rows(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Read JSONL catalogs into row dicts, with image paths made absolute (relative to each file)."""
    rows = []
    for path in map(Path, paths):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path.name}:{n}: not JSON ({e}); fix the line or remove it") from e
            row["images"] = [str((path.parent / im).resolve()) if not Path(im).is_absolute() else im
                             for im in row.get("images") or []]
            rows.append(row)
    return rows


def _rows(catalog_rows: Iterable[Any]) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") if hasattr(r, "model_dump") else dict(r) for r in catalog_rows]


def catalog_problems(files: Sequence[DialogueFile], facts: CatalogFacts) -> list[str]:
    """Product ids used by the dialogues (images, expectations) that the catalog does not hold."""
    out = []
    for df in files:
        for d in df.dialogues:
            for n, turn in enumerate(d.turns, 1):
                ids = literal_ids(turn)
                for pid in sorted(ids - set(facts.rows)):
                    out.append(f"{Path(df.path).name}: dialogue {d.id!r} turn {n}: unknown product id {pid}")
                if turn.image and turn.image in facts.rows and not facts.rows[turn.image].get("images"):
                    out.append(f"{Path(df.path).name}: dialogue {d.id!r} turn {n}: {turn.image} has no image")
    return out


def run_suite(turn_fn: TurnFn, paths: Iterable[Path], catalog_rows: Iterable[Any], *,
              only: str | Iterable[str] | None = None, image_root: Path | None = None,
              on_turn: Callable[[str, TurnResult], None] | None = None) -> SuiteReport:
    """Run every dialogue through `turn_fn` (a fresh session each) and check every turn.

    `catalog_rows`: the catalog the agent serves (dicts or Products) — the demo catalog plus
    tests/dialogues/catalog_extra.jsonl; `only`: dialogue ids, tags or groups to run; `image_root`: folder
    that relative image paths are resolved against (not needed with `load_catalog_rows`); `on_turn`: called
    with (dialogue id, result) after every turn, e.g. to print progress during a long run.
    """
    files = load_dialogues(paths)
    facts = CatalogFacts.from_rows(_rows(catalog_rows))
    wanted = {only} if isinstance(only, str) else set(only or ())
    selected = [(df, d) for df in files for d in df.dialogues
                if not wanted or d.id in wanted or wanted & set(d.tags) or df.group in wanted]
    problems = catalog_problems([df.model_copy(update={"dialogues": [d for f, d in selected if f is df]})
                                 for df in files], facts)
    if problems:
        raise DialogueFormatError("dialogues refer to products the catalog lacks (run each suite on its own catalog: "
                                  "tests/dialogues on the demo catalog plus catalog_extra.jsonl, a variant on the "
                                  "variant's catalog):\n" + "\n".join(problems))
    return SuiteReport(dialogues=[_run_dialogue(turn_fn, df.group, d, facts, image_root, on_turn)
                                  for df, d in selected])


def _image_path(pid: str, facts: CatalogFacts, image_root: Path | None) -> Path:
    image = Path(facts.rows[pid]["images"][0])
    return image if image.is_absolute() or image_root is None else image_root / image


def _run_dialogue(turn_fn: TurnFn, group: str, d: Dialogue, facts: CatalogFacts, image_root: Path | None,
                  on_turn: Callable[[str, TurnResult], None] | None) -> DialogueResult:
    session = f"{d.id}-{uuid.uuid4().hex[:8]}"
    history: list[list[dict[str, Any]]] = []  # products shown per turn
    sources: list[dict[str, Any]] = []  # products looked up by id without being shown
    user_texts: list[str] = []
    results: list[TurnResult] = []
    broken: str | None = None
    for n, turn in enumerate(d.turns, 1):
        user_texts.append(turn.user)
        shown: list[dict[str, Any]] = []
        if broken:
            result = TurnResult(n, turn.user, [Failure("run", f"not run: {broken}")])
        else:
            image = _image_path(turn.image, facts, image_root) if turn.image else None
            t0 = time.perf_counter()
            try:
                out = turn_fn(session, turn.user, image)
            except Exception as e:  # noqa: BLE001 — a crashing agent is a failed turn in the report, not a crash
                broken = f"turn {n} raised {type(e).__name__}: {e}"
                out = None
            ms = (time.perf_counter() - t0) * 1e3
            if broken:
                result = TurnResult(n, turn.user, [Failure("run", broken)], ms=ms)
            else:
                got = check_turn(out, turn.expect, d.language, history, user_texts, facts, sources)
                sources += got.looked_up
                shown = got.shown
                result = TurnResult(n, turn.user, got.failures, tools=got.called,
                                    product_ids=[p["id"] for p in got.shown], text=got.text, ms=ms)
        history.append(shown)
        results.append(result)
        if on_turn is not None:
            on_turn(d.id, result)
    return DialogueResult(id=d.id, group=group, tags=list(d.tags), language=d.language, turns=results)
