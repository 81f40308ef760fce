"""Catalog files -> validated products -> text/image features -> the store, in idempotent batches.

A bad row is reported (file:line: reason) and skipped; the good rows go in. A product whose image is
missing, corrupt, huge or not an image goes in text-only, and the problem is reported. Products are
upserted by id and skipped when unchanged (content hash), so re-running an ingest, or finishing one that
was killed half way, ends with exactly the catalog's products. Deleting products that are no longer in
the catalog happens only with `prune=True`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from daogou.ingest.filters import METADATA_VERSION, content_hash, product_metadata
from daogou.ingest.images import ImageError, open_image
from daogou.ingest.readers import read_catalog_lines
from daogou.ingest.schema import Product, RowError
from daogou.ingest.store import ProductStore, StoreRecord
from daogou.ingest.text import embedding_text, product_text
from daogou.settings import Settings

__all__ = ["ImageProblem", "IngestError", "IngestReport", "ingest_catalogs"]


class IngestError(RuntimeError):
    """The batch was refused as a whole (e.g. `--strict` with rejected rows); nothing was written."""


@dataclass(frozen=True)
class ImageProblem:
    """An image that could not be used; the product went in text-only."""

    product_id: str
    image: str
    reason: str

    def __str__(self) -> str:
        return f"[{self.product_id}] image {self.image}: {self.reason} (product kept, text-only)"


@dataclass
class IngestReport:
    """What an ingest did. `ok` is False when any row was rejected."""

    files: list[str] = field(default_factory=list)
    read: int = 0
    written: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)
    image_problems: list[ImageProblem] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # in the store but not in these files (kept: no prune)
    # a rejected row's id is never pruned: a typo in a row must not delete the product it describes
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every row was accepted."""
        return not self.rejected

    def summary(self) -> str:
        """One line for people."""
        parts = [f"{self.read} products read", f"{self.written} written", f"{self.unchanged} unchanged",
                 f"{len(self.rejected)} rows rejected", f"{len(self.image_problems)} image problems"]
        if self.deleted:
            parts.append(f"{len(self.deleted)} deleted")
        if self.stale:
            parts.append(f"{len(self.stale)} in store but not in catalog (kept; --prune deletes them)")
        return ", ".join(parts) + f" in {self.seconds:.1f}s"

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {
            "files": self.files, "read": self.read, "written": self.written, "unchanged": self.unchanged,
            "rejected": [str(e) for e in self.rejected],
            "image_problems": [str(p) for p in self.image_problems],
            "deleted": self.deleted, "stale": self.stale, "seconds": round(self.seconds, 3), "ok": self.ok,
        }


def _collect(paths: Sequence[Path], report: IngestReport) -> list[tuple[Product, Path]]:
    """Read every file; later duplicates of an id (across files) are rejected, never silently merged."""
    seen: dict[str, str] = {}
    out: list[tuple[Product, Path]] = []
    for path in paths:
        report.files.append(str(path))
        for item in read_catalog_lines(path):
            if isinstance(item, RowError):
                report.rejected.append(item)
                continue
            line, product = item
            if product.id in seen:
                report.rejected.append(RowError(source=path.name, line=line, product_id=product.id,
                                                reason=f"duplicate id {product.id} (first seen in {seen[product.id]})"))
                continue
            seen[product.id] = f"{path.name}:{line}"
            out.append((product, path))
    report.read = len(out)
    return out


def _resolve_images(product: Product, catalog: Path) -> Product:
    """Image paths relative to the catalog file become absolute, so the store can serve them later."""
    resolved = [ref if ref.startswith(("http://", "https://")) or Path(ref).is_absolute()
                else str((catalog.parent / ref).resolve()) for ref in product.images]
    return product if resolved == product.images else product.model_copy(update={"images": resolved})


def _image_ref(product: Product) -> Path | str | None:
    if not product.images:
        return None
    ref = product.images[0]
    return ref if ref.startswith(("http://", "https://")) else Path(ref)


def _signature(product: Product, ref: Path | str | None) -> str:
    """Content hash plus the image file's size and mtime, so a changed image is re-embedded."""
    stamp = ""
    if isinstance(ref, Path):
        try:
            st = ref.stat()
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
    return f"{content_hash(product)}:{stamp}:m{METADATA_VERSION}"


def _load_image(product: Product, ref: Path | str | None, settings: Settings,
                report: IngestReport) -> np.ndarray | None:
    if ref is None:
        return None
    if isinstance(ref, str):
        report.image_problems.append(ImageProblem(product.id, ref, "remote image URLs are not fetched; "
                                                  "download the image next to the catalog and use a relative path"))
        return None
    try:
        img = open_image(ref, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
    except ImageError as e:
        report.image_problems.append(ImageProblem(product.id, str(product.images[0]), str(e)))
        return None
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _batches(items: Sequence[tuple[Product, Path]], size: int) -> Iterable[Sequence[tuple[Product, Path]]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def ingest_catalogs(paths: Sequence[Path], store: ProductStore, settings: Settings, *, strict: bool = False,
                    prune: bool = False, progress: bool | None = None) -> IngestReport:
    """Load catalog files into the store. See the module docstring for the guarantees."""
    t0 = time.perf_counter()
    report = IngestReport()
    for p in paths:
        if not p.exists():
            raise IngestError(f"catalog file {p} does not exist; check the path")
    products = _collect(paths, report)
    if strict and report.rejected:
        raise IngestError(
            f"--strict: {len(report.rejected)} rows rejected, nothing written; first: {report.rejected[0]}"
        )
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(products), unit="product", desc="ingest", disable=not show, file=sys.stderr)
    for batch in _batches(products, settings.batch_size):
        resolved = [_resolve_images(p, path) for p, path in batch]
        refs = [_image_ref(p) for p in resolved]
        sigs = [_signature(p, ref) for p, ref in zip(resolved, refs, strict=True)]
        stored = store.hashes([p.id for p in resolved])
        records = []
        for product, ref, sig in zip(resolved, refs, sigs, strict=True):
            if stored.get(product.id) == sig:
                report.unchanged += 1
                continue
            records.append(StoreRecord(
                product=product, text=product_text(product), passage=embedding_text(product),
                metadata=product_metadata(product), content_hash=sig,
                image=_load_image(product, ref, settings, report),
            ))
        store.upsert(records)
        report.written += len(records)
        bar.update(len(batch))
    bar.close()
    wanted = {p.id for p, _ in products} | {e.product_id for e in report.rejected if e.product_id}
    extra = [i for i in store.all_ids() if i not in wanted]
    if prune and extra:
        store.delete(extra)
        report.deleted = extra
    else:
        report.stale = extra
    report.seconds = time.perf_counter() - t0
    return report
