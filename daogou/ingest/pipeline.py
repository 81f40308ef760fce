"""Catalog files -> validated products -> text/image features -> the store, in idempotent batches.

A bad row is reported (file:line: reason) and skipped; the good rows go in. A product whose image is
missing, corrupt, huge or not an image goes in text-only, and the problem is reported. Image paths may not
leave the catalog file's folder (absolute paths, "..", symlinks) unless they point into a folder of
`Settings.image_roots`; such a path is dropped from the record and reported, so no other host file is ever
read or shown. Products are upserted by id and skipped when unchanged (content hash), so re-running an
ingest, or finishing one that was killed half way, ends with exactly the catalog's products. Deleting
products that are no longer in the catalog happens only with `prune=True`; products the catalog itself
marks not for sale (Shopify draft/archived/unlisted) are withdrawn from the store whenever they are there.
An empty catalog file is refused before anything is written (with `--prune` it would empty the store).
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
from daogou.ingest.readers import CatalogReader
from daogou.ingest.schema import Product, RowError
from daogou.ingest.store import ProductStore, StoreRecord
from daogou.ingest.text import embedding_text, product_text
from daogou.settings import Settings

__all__ = ["ImageProblem", "IngestError", "IngestReport", "ingest_catalogs"]


class IngestError(RuntimeError):
    """The batch was refused as a whole (e.g. `--strict` with rejected rows); nothing was written.

    `report` is what was read before the refusal (its `rejected` lists every bad row), or None.
    """

    def __init__(self, message: str, report: IngestReport | None = None) -> None:
        super().__init__(message)
        self.report = report


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
    currencies: dict[str, int] = field(default_factory=dict)  # products read per currency, as the catalog gives it
    default_currency: str = "CNY"  # what products that state no currency were given
    currency_set: bool = False  # True: the shop's currency was given (--currency / DAOGOU_CURRENCY)
    currency_defaulted: dict[str, int] = field(default_factory=dict)  # file -> products that stated no currency
    attribute_columns: dict[str, list[str]] = field(default_factory=dict)  # CSV file -> columns read as attributes
    not_for_sale: dict[str, list[str]] = field(default_factory=dict)  # status -> ids left out (Shopify)
    withdrawn: list[str] = field(default_factory=list)  # not-for-sale ids deleted from the store
    warnings: list[str] = field(default_factory=list)  # file-level things the shop should check
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every row was accepted."""
        return not self.rejected

    def summary(self) -> str:
        """One line for people."""
        parts = [f"{self.read} products read", f"{self.written} written", f"{self.unchanged} unchanged",
                 f"{len(self.rejected)} rows rejected", f"{len(self.image_problems)} image problems"]
        if self.currencies:
            parts.append("prices in " + ", ".join(f"{c} ({n})" for c, n in sorted(self.currencies.items())))
        if self.not_for_sale:
            parts.append(f"{sum(map(len, self.not_for_sale.values()))} not for sale left out")
        if self.withdrawn:
            parts.append(f"{len(self.withdrawn)} withdrawn from the store")
        if self.deleted:
            parts.append(f"{len(self.deleted)} deleted")
        if self.stale:
            parts.append(f"{len(self.stale)} in store but not in catalog (kept; --prune deletes them)")
        return ", ".join(parts) + f" in {self.seconds:.1f}s"

    def notes(self) -> list[str]:
        """What the ingest read the way the shop may not expect, one line each (besides `warnings`)."""
        out = [f"attributes from columns ({name}): {', '.join(cols)}"
               for name, cols in self.attribute_columns.items() if cols]
        if self.currency_set:
            out += [f"currency ({name}): no currency stated for {_products(n)}; given {self.default_currency}, "
                    "the shop's currency (--currency / DAOGOU_CURRENCY)"
                    for name, n in self.currency_defaulted.items() if n]
        for status, ids in sorted(self.not_for_sale.items()):
            shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
            out.append(f"not for sale ({status}), left out: {_products(len(ids))}: {shown}")
        if self.withdrawn:
            out.append(f"withdrawn from the store (now marked not for sale): {', '.join(self.withdrawn[:10])}"
                       + (f" and {len(self.withdrawn) - 10} more" if len(self.withdrawn) > 10 else ""))
        return out

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {
            "files": self.files, "read": self.read, "written": self.written, "unchanged": self.unchanged,
            "rejected": [str(e) for e in self.rejected],
            "image_problems": [str(p) for p in self.image_problems],
            "deleted": self.deleted, "stale": self.stale,
            "currencies": self.currencies, "default_currency": self.default_currency,
            "currency_set": self.currency_set, "currency_defaulted": self.currency_defaulted,
            "attribute_columns": self.attribute_columns, "not_for_sale": self.not_for_sale,
            "withdrawn": self.withdrawn, "notes": self.notes(), "warnings": self.warnings,
            "seconds": round(self.seconds, 3), "ok": self.ok,
        }


def _products(n: int) -> str:
    return f"{n} product" if n == 1 else f"{n} products"


def _collect(paths: Sequence[Path], report: IngestReport, settings: Settings) -> list[tuple[Product, Path]]:
    """Read every file; later duplicates of an id (across files) are rejected, never silently merged.

    An empty file (no product rows at all) raises IngestError before anything is written.
    """
    seen: dict[str, str] = {}
    out: list[tuple[Product, Path]] = []
    for path in paths:
        report.files.append(str(path))
        reader = CatalogReader(path, default_currency=settings.currency)
        for item in reader:
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
            report.currencies[product.currency] = report.currencies.get(product.currency, 0) + 1
        _note_file(reader, report)
    report.read = len(out)
    return out


def _note_file(reader: CatalogReader, report: IngestReport) -> None:
    """Carry one file's ReadNotes into the report; refuse an empty file."""
    notes = reader.notes
    if notes.records == 0:
        what = "only a header row" if notes.format in ("csv", "shopify") else "no product rows"
        raise IngestError(f"{reader.path}: the catalog file holds {what}; nothing was written (with --prune an "
                          "empty file would empty the store). Check the export, or leave the file out", report)
    report.default_currency = notes.default_currency
    report.currency_defaulted[notes.source] = notes.currency_defaulted
    if notes.format == "csv":
        report.attribute_columns[notes.source] = notes.attribute_columns
    for status, ids in notes.not_for_sale.items():
        report.not_for_sale.setdefault(status, []).extend(ids)
    if notes.unnamed_columns:
        report.warnings.append(f"{notes.source}: column(s) {', '.join(map(str, notes.unnamed_columns))} have no "
                               "name in the header row and were not read; name them to import them")
    if notes.currency_defaulted and not report.currency_set:
        why = "a Shopify export has no currency column" if notes.format == "shopify" else "the rows state none"
        report.warnings.append(
            f"{notes.source}: no currency stated for {_products(notes.currency_defaulted)} ({why}); given "
            f"{notes.default_currency}, the default. If the shop's prices are in another currency, run again with "
            "--currency CODE (e.g. --currency USD) or set DAOGOU_CURRENCY")


_REMOTE = ("http://", "https://")


def _resolve_images(product: Product, catalog: Path, roots: Sequence[Path],
                    report: IngestReport) -> Product:
    """Image paths become absolute paths inside the catalog's folder (or an allowed root), so the store can
    serve them later; a path that leaves them (absolute, "..", a symlink out) is dropped and reported.
    Remote URLs are kept as written (never fetched; reported when they are the product's first image)."""
    base = catalog.parent.resolve()
    kept: list[str] = []
    for ref in product.images:
        if ref.lower().startswith(_REMOTE):
            kept.append(ref)
            continue
        path = (base / ref).resolve()  # an absolute ref replaces base; symlinks are followed to their target
        if any(path.is_relative_to(root) for root in (base, *roots)):
            kept.append(str(path))
            continue
        report.image_problems.append(ImageProblem(product.id, ref, (
            f"the path leads outside the catalog's folder {base} (to {path}); images must lie in that folder "
            "or in a folder listed in DAOGOU_IMAGE_ROOTS. Copy the image there; the path was dropped")))
    return product if kept == product.images else product.model_copy(update={"images": kept})


def _image_ref(product: Product) -> Path | str | None:
    if not product.images:
        return None
    ref = product.images[0]
    return ref if ref.lower().startswith(_REMOTE) else Path(ref)


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
    report = IngestReport(currency_set=settings.currency is not None)
    for p in paths:
        if not p.exists():
            raise IngestError(f"catalog file {p} does not exist; check the path")
        if not p.is_file():
            raise IngestError(f"catalog {p} is not a file; give the catalog file itself (.jsonl, .json or .csv)")
    products = _collect(paths, report, settings)
    if strict and report.rejected:
        raise IngestError(f"--strict: {len(report.rejected)} rows rejected, nothing written; fix them and run "
                          f"again: {'; '.join(map(str, report.rejected))}", report)
    roots = [Path(r).resolve() for r in settings.image_roots]
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(products), unit="product", desc="ingest", disable=not show, file=sys.stderr)
    for batch in _batches(products, settings.batch_size):
        resolved = [_resolve_images(p, path, roots, report) for p, path in batch]
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
    withheld = [i for ids in report.not_for_sale.values() for i in ids if i not in wanted]
    report.withdrawn = list(store.hashes(withheld)) if withheld else []  # those the store holds
    if report.withdrawn:
        store.delete(report.withdrawn)
        wanted |= set(report.withdrawn)
    extra = [i for i in store.all_ids() if i not in wanted]
    if prune and extra:
        store.delete(extra)
        report.deleted = extra
    else:
        report.stale = extra
    report.seconds = time.perf_counter() - t0
    return report
