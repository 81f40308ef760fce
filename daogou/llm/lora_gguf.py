"""LoRA adapters of `daogou tune copy` (peft folders) as GGUF LoRA files the llama.cpp engine loads beside its model.

The conversion follows llama.cpp's `convert_lora_to_gguf.py`: every `lora_A` / `lora_B` pair of a peft adapter
becomes the tensors `<gguf name of the base weight>.lora_a` (rank x in) and `.lora_b` (out x rank), in float32,
under `general.type = adapter`, `adapter.type = lora` and `adapter.lora.alpha`; llama.cpp scales the product by
alpha / rank, as peft does. Each pair is checked against the shape of the base model's tensor, so an adapter
made for another model is refused here with its name, not later inside llama.cpp.

`adapter_gguf_path` converts once per adapter content (its files' sha256) into `<models_dir>/adapters/`,
writes a sha256 stamp beside the file, and re-verifies a file whose size or mtime changed, like the base model.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daogou.llm.adapters import read_adapter_info
from daogou.llm.gguf_file import gguf_header
from daogou.model_files import FILE_LOCK, ModelError, clear_stale, sha256_file

if TYPE_CHECKING:
    from daogou.settings import Settings

__all__ = ["adapter_gguf_path", "convert_adapter"]

_KEY = re.compile(r"^base_model\.model\.(?P<base>.+)\.lora_(?P<ab>[AB])\.weight$")
_SOURCES = ("adapter_config.json", "adapter_model.safetensors")


def _source_hash(folder: Path) -> str:
    """sha256 over the adapter's config and weights: a new training run gives a new converted file."""
    h = hashlib.sha256()
    for name in _SOURCES:
        h.update(name.encode())
        h.update(bytes.fromhex(sha256_file(folder / name)))
    return h.hexdigest()


def _alpha(config: dict[str, Any], folder: Path) -> float:
    """The alpha llama.cpp needs so that alpha / rank equals peft's scaling; refuses what llama.cpp cannot run."""
    for key, why in (("use_dora", "DoRA"), ("modules_to_save", "fully trained modules"),
                     ("rank_pattern", "per-module ranks"), ("alpha_pattern", "per-module alphas")):
        if config.get(key):
            raise ValueError(f"adapter {folder} uses {why} ({key}), which llama.cpp cannot apply as a LoRA; train a "
                             "plain LoRA with `daogou tune copy`, or run DAOGOU_LLM=transformers")
    rank, alpha = int(config["r"]), float(config["lora_alpha"])
    return alpha * math.sqrt(rank) if config.get("use_rslora") else alpha  # rsLoRA scales by alpha / sqrt(r)


def _tensors(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return {k: v.float().numpy() for k, v in load_file(str(folder / "adapter_model.safetensors")).items()}


def convert_adapter(folder: Path, out: Path, base_gguf: Path) -> Path:
    """Write the peft LoRA adapter in `folder` as a GGUF LoRA for the model `base_gguf`; returns `out`.

    Raises ValueError naming the tensor when a key is not a LoRA pair, has no counterpart in the base model,
    or does not fit its shape.
    """
    import gguf
    import numpy as np

    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    alpha = _alpha(config, folder)
    header = gguf_header(base_gguf)
    arch = str(header.meta.get("general.architecture", ""))
    arch_enum = next((a for a, name in gguf.MODEL_ARCH_NAMES.items() if name == arch), None)
    if arch_enum is None:
        raise ValueError(f"{base_gguf} has architecture {arch!r}, which the gguf package does not know")
    names = gguf.get_tensor_name_map(arch_enum, int(header.meta.get(f"{arch}.block_count", 0)))
    pairs: dict[str, dict[str, Any]] = {}
    for key, value in _tensors(folder).items():
        m = _KEY.match(key)
        if m is None:
            raise ValueError(f"adapter {folder}: tensor {key!r} is not a lora_A/lora_B weight; llama.cpp can only "
                             "load plain LoRA adapters")
        target = names.get_name(m["base"] + ".weight", try_suffixes=(".weight",))
        if target is None or target not in header.tensors:
            raise ValueError(f"adapter {folder}: {m['base']} has no counterpart in {base_gguf.name}; was the adapter "
                             "trained on another model?")
        pairs.setdefault(target, {})[m["ab"]] = value
    if not pairs:
        raise ValueError(f"adapter {folder} holds no LoRA weights")
    writer = gguf.GGUFWriter(out, arch=arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    writer.add_string("general.name", folder.name)
    for target, ab in sorted(pairs.items()):
        if set(ab) != {"A", "B"}:
            raise ValueError(f"adapter {folder}: {target} has lora_{''.join(ab)} without its pair")
        a, b = ab["A"], ab["B"]  # (rank, in), (out, rank)
        n_in, n_out = header.tensors[target][:2]  # ggml order: row length (in) first
        if a.shape != (b.shape[1], n_in) or b.shape[0] != n_out:
            raise ValueError(f"adapter {folder}: {target} lora_A {a.shape} / lora_B {b.shape} do not fit the base "
                             f"weight ({n_out} x {n_in}); was the adapter trained on another model?")
        writer.add_tensor(f"{target}.lora_a", np.ascontiguousarray(a, np.float32))
        writer.add_tensor(f"{target}.lora_b", np.ascontiguousarray(b, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def adapter_gguf_path(folder: Path, base_gguf: Path, base_sha256: str, settings: Settings) -> Path:
    """The verified GGUF LoRA of the adapter in `folder` for the model `base_gguf`, converted once and cached.

    `base_sha256` is the base model's sha256; an adapter trained on another base (its `daogou_adapter.json`
    says which) is refused with the fix. The file is written atomically and stamped with its sha256.
    """
    folder = Path(folder)
    info = read_adapter_info(folder)  # a clear error when the folder is not an adapter of `daogou tune copy`
    trained_on = info.base_sha256.split(":")[0]
    if trained_on != base_sha256:
        raise ValueError(f"adapter {folder} was trained on base model {trained_on[:16]}… but the chat model is "
                         f"{base_sha256[:16]}… ({base_gguf.name}); retrain it with `daogou tune copy` on this model, "
                         "or unset DAOGOU_COPY_ADAPTER")
    for name in _SOURCES:
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} is missing; pass the --out folder of `daogou tune copy`")
    out_dir = settings.models_dir / "adapters"
    out = out_dir / f"{folder.name}-{_source_hash(folder)[:16]}-{base_sha256[:8]}.gguf"
    stamp = out.with_name(out.name + ".sha256.json")
    with FILE_LOCK:
        if _stamped(out, stamp):
            return out
        out_dir.mkdir(parents=True, exist_ok=True)
        clear_stale(out_dir, f".{out.name}.")
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out_dir)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            convert_adapter(folder, tmp, base_gguf)
            os.replace(tmp, out)
        except (OSError, KeyError) as e:
            raise ModelError(f"converting adapter {folder} to GGUF failed: {e}. Fix: check the folder is a "
                             "complete `daogou tune copy` output") from e
        finally:
            tmp.unlink(missing_ok=True)
        st = out.stat()
        stamp.write_text(json.dumps({"sha256": sha256_file(out), "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
        return out


def _stamped(out: Path, stamp: Path) -> bool:
    """True when `out` matches its stamp: unchanged since written, or re-hashed to the same sha256."""
    try:
        recorded = json.loads(stamp.read_text())
        st = out.stat()
    except (OSError, ValueError):
        return False
    if st.st_size != recorded.get("size"):
        return False
    if st.st_mtime_ns == recorded.get("mtime_ns"):
        return True
    return sha256_file(out) == recorded.get("sha256")
