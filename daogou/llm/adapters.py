"""LoRA adapter folders written by `daogou tune copy`: their metadata, and merging one into a loaded model.

An adapter folder holds peft's `adapter_config.json` + `adapter_model.safetensors` and `daogou_adapter.json`:
the base model's hash, the training data's hash, steps, final loss, and the prompt template it was trained
with (`prompt_key`), which the copywriter must use with it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["META_FILE", "AdapterInfo", "base_model_hash", "file_hash", "merge_adapter", "read_adapter_info"]

META_FILE = "daogou_adapter.json"
_BASE_MANIFEST = "daogou_manifest.json"  # written by daogou.llm.provision when the bf16 copy is made


@dataclass
class AdapterInfo:
    """What an adapter was trained on and how (daogou_adapter.json)."""

    base_model: str  # the base model folder when trained
    base_sha256: str  # base_model_hash() of that folder
    data: str  # the training file
    data_sha256: str  # sha256 of the training examples used
    prompt_key: str  # copy.yaml template the examples were rendered with
    examples: int = 0
    steps: int = 0
    epochs: float = 0.0
    rank: int = 8
    alpha: int = 16
    lr: float = 0.0
    max_len: int = 0
    loss_first: float = 0.0  # mean loss of the first logged window
    loss_last: float = 0.0  # mean loss of the last logged window
    train_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def write(self, folder: Path) -> None:
        """Write daogou_adapter.json into `folder`."""
        (folder / META_FILE).write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), encoding="utf-8")


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def base_model_hash(model_path: Path) -> str:
    """Identity of a base model folder: the verified source hash in its daogou manifest, else its weights' sha256."""
    try:
        manifest = json.loads((model_path / _BASE_MANIFEST).read_text())
        if manifest.get("source_sha256"):
            return f"{manifest['source_sha256']}:{manifest.get('dtype', '')}"
    except (OSError, ValueError):
        pass
    weights = sorted(model_path.glob("*.safetensors"))
    if not weights:
        raise FileNotFoundError(f"{model_path} has no *.safetensors weights to hash; is it a model folder?")
    return hashlib.sha256("".join(file_hash(w) for w in weights).encode()).hexdigest()


def read_adapter_info(folder: Path) -> AdapterInfo:
    """The metadata of an adapter folder; a clear error when the folder is not one."""
    if not (folder / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{folder} is not a LoRA adapter folder (no adapter_config.json); pass the --out "
                                "folder of `daogou tune copy`")
    try:
        data = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        return AdapterInfo(**data)
    except (OSError, ValueError, TypeError) as e:
        raise ValueError(f"{folder / META_FILE} is missing or unreadable ({e}); retrain with `daogou tune copy`") from e


def merge_adapter(model: Any, folder: Path, base_path: Path) -> tuple[Any, AdapterInfo]:
    """Load the LoRA adapter in `folder` onto `model` and merge it into the weights; refuses another base model."""
    from peft import PeftModel

    info = read_adapter_info(folder)
    have = base_model_hash(base_path)
    if info.base_sha256 != have:
        raise ValueError(f"adapter {folder} was trained on base model {info.base_sha256[:16]}… but {base_path} is "
                         f"{have[:16]}…; retrain it with `daogou tune copy` on this model")
    merged = PeftModel.from_pretrained(model, str(folder), is_trainable=False).merge_and_unload()
    return merged.eval(), info
