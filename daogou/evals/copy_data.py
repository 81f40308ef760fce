"""Attribute → copy pairs in the AdvertiseGen format: reading, a seeded train/held-out split, and Products.

One JSON object per line: `{"content": "类型#上衣*材质#牛仔布*颜色#白色", "summary": "<copy written by a person>"}`.
`content` is `key#value` tags joined by `*`; a key may repeat (`风格#复古*风格#文艺`: the values are joined
with "、"). A bad line (bad JSON, missing/empty field, a tag without `#`) is reported with its line number and
reason and skipped; the good lines are kept.

The split is by a hash of the record's `content` and `summary` with a seed, so it is deterministic, disjoint,
independent of file order, and a record keeps its side when the file grows.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from daogou.ingest.readers import json_lines
from daogou.ingest.schema import Product

__all__ = ["CopyExample", "LineError", "read_copy_pairs", "sample", "split_examples"]

TYPE_KEY = "类型"  # the AdvertiseGen tag naming the kind of product (上衣, 裙, 裤 ...)


@dataclass(frozen=True)
class LineError:
    """A line that could not be read: where and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class CopyExample:
    """One attribute → copy pair; `line` is its 1-based line in the file."""

    line: int
    attributes: dict[str, str]
    reference: str
    content: str

    @property
    def key(self) -> str:
        """A stable identity of the record (its content and copy)."""
        return hashlib.sha256(f"{self.content}\n{self.reference}".encode()).hexdigest()

    def to_product(self) -> Product:
        """The record as a catalog Product: named by its 类型 tag, every other tag an attribute."""
        kind = self.attributes.get(TYPE_KEY, "商品")
        attrs = {k: v for k, v in self.attributes.items() if k != TYPE_KEY}
        return Product(id=f"line{self.line}", title=kind, attributes=attrs)


def parse_content(content: str) -> dict[str, str]:
    """`k#v*k#v` tags -> {k: v}; a repeated key's values are joined with "、". Raises ValueError on a bad tag."""
    attrs: dict[str, list[str]] = {}
    for tag in content.split("*"):
        key, sep, value = tag.partition("#")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ValueError(f"tag {tag!r} is not key#value")
        if value not in attrs.setdefault(key, []):
            attrs[key].append(value)
    return {k: "、".join(v) for k, v in attrs.items()}


def read_copy_pairs(path: Path) -> tuple[list[CopyExample], list[LineError]]:
    """Read an AdvertiseGen-format JSONL file: (good examples, bad lines with reasons)."""
    good: list[CopyExample] = []
    bad: list[LineError] = []
    for n, row, problem in json_lines(path):
        if problem:
            bad.append(LineError(n, problem))
            continue
        if not isinstance(row, dict):
            bad.append(LineError(n, f"expected an object with content and summary, got {type(row).__name__}"))
            continue
        content, summary = row.get("content"), row.get("summary")
        if not isinstance(content, str) or not content.strip():
            bad.append(LineError(n, "content is missing or empty (want \"k#v*k#v\" tags)"))
            continue
        if not isinstance(summary, str) or not summary.strip():
            bad.append(LineError(n, "summary is missing or empty (want the reference copy)"))
            continue
        try:
            attrs = parse_content(content)
        except ValueError as e:
            bad.append(LineError(n, f"content: {e}"))
            continue
        good.append(CopyExample(line=n, attributes=attrs, reference=summary.strip(), content=content.strip()))
    return good, bad


def split_examples(examples: Sequence[CopyExample], *, heldout: float = 0.2,
                   seed: int = 0) -> tuple[list[CopyExample], list[CopyExample]]:
    """(train, held-out): each record goes to held-out when the seeded hash of its key falls below `heldout`."""
    if not 0 < heldout < 1:
        raise ValueError(f"heldout={heldout} must be a fraction between 0 and 1, e.g. 0.2")
    train: list[CopyExample] = []
    held: list[CopyExample] = []
    for ex in examples:
        h = int(hashlib.sha256(f"{seed}:{ex.key}".encode()).hexdigest()[:12], 16) / 16 ** 12
        (held if h < heldout else train).append(ex)
    return train, held


def sample(examples: Sequence[CopyExample], limit: int | None, seed: int = 0) -> list[CopyExample]:
    """A seeded random subsample of `limit` examples in file order (all of them when limit is None or larger)."""
    if limit is None or limit >= len(examples):
        return list(examples)
    if limit < 1:
        raise ValueError(f"limit={limit} must be at least 1")
    picked = random.Random(seed).sample(range(len(examples)), limit)
    return [examples[i] for i in sorted(picked)]
