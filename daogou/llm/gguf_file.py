"""Reading a GGUF file's header without loading it: its metadata keys and its tensors' names and shapes.

Only scalar and string keys are kept; arrays (the 150k-token vocabulary, its merges) are skipped without being
parsed: the `gguf` package's reader takes seconds on such a file, this ~0.1 s. The special tokens' texts
(`tokenizer.ggml.bos_token`, `..eos_token`) are looked up in the vocabulary, for chat templates that use them.
"""

from __future__ import annotations

import mmap
import struct
from functools import lru_cache
from pathlib import Path
from typing import Any

from daogou.model_files import ModelError

__all__ = ["GGUFHeader", "gguf_header", "gguf_metadata"]

GGUF_MAGIC = b"GGUF"
# GGUF value types -> struct format of a scalar (8: string, 9: array)
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


class GGUFHeader:
    """A GGUF file's metadata (scalars and strings) and tensor shapes (ggml order: row length first)."""

    def __init__(self, meta: dict[str, Any], tensors: dict[str, tuple[int, ...]]) -> None:
        self.meta, self.tensors = meta, tensors


def gguf_metadata(path: Path) -> dict[str, Any]:
    """The scalar and string metadata of a GGUF file (arrays are skipped), e.g. `tokenizer.chat_template`."""
    return gguf_header(path).meta


def gguf_header(path: Path) -> GGUFHeader:
    """Metadata and tensor shapes of the GGUF file at `path` (read once per file version).

    Raises ModelError naming the file when it is not a readable GGUF (v2 or v3).
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError as e:
        raise ModelError(f"cannot read model file {path}: {e}. Fix: point at an existing .gguf file") from e
    return _header(path, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=8)
def _header(path: Path, size: int, mtime_ns: int) -> GGUFHeader:
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            return _read_header(m, path)
    except (OSError, ValueError, struct.error, UnicodeDecodeError) as e:
        raise ModelError(f"{path} is not a readable GGUF model file ({e}). Fix: point at a .gguf file; for a "
                         "bundled model delete it and run `daogou models` to assemble it again") from e


def _read_header(m: mmap.mmap, path: Path) -> GGUFHeader:
    if m[:4] != GGUF_MAGIC:
        raise ValueError(f"starts with {bytes(m[:4])!r}, not the GGUF magic")
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", m, 4)
    if version not in (2, 3):
        raise ValueError(f"GGUF version {version} is not supported (2 or 3)")
    pos, out = 24, {}

    def string(at: int) -> tuple[str, int]:
        (n,) = struct.unpack_from("<Q", m, at)
        return m[at + 8:at + 8 + n].decode("utf-8"), at + 8 + n

    def skip(kind: int, at: int) -> int:
        if kind == _STRING:
            return at + 8 + struct.unpack_from("<Q", m, at)[0]
        if kind == _ARRAY:
            inner, count = struct.unpack_from("<IQ", m, at)
            at += 12
            if inner in _SCALARS:
                return at + count * struct.calcsize(_SCALARS[inner])
            for _ in range(count):
                at = skip(inner, at)
            return at
        return at + struct.calcsize(_SCALARS[kind])

    tokens_at = None  # where the vocabulary's strings start
    for _ in range(n_kv):
        key, pos = string(pos)
        (kind,) = struct.unpack_from("<I", m, pos)
        pos += 4
        if kind == _STRING:
            out[key], pos = string(pos)
        elif kind in _SCALARS:
            (out[key],) = struct.unpack_from("<" + _SCALARS[kind], m, pos)
            pos += struct.calcsize(_SCALARS[kind])
        elif kind == _ARRAY:
            if key == "tokenizer.ggml.tokens" and struct.unpack_from("<I", m, pos)[0] == _STRING:
                tokens_at = pos + 12
            pos = skip(kind, pos)
        else:
            raise ValueError(f"unknown GGUF value type {kind} at key {key!r}")
    # the texts of the special tokens a chat template may use (bos_token / eos_token)
    wanted = {out[f"tokenizer.ggml.{w}_token_id"]: w for w in ("bos", "eos") if f"tokenizer.ggml.{w}_token_id" in out}
    if tokens_at is not None and wanted:
        at = tokens_at
        for i in range(max(wanted) + 1):
            text, at = string(at)
            if i in wanted:
                out[f"tokenizer.ggml.{wanted[i]}_token"] = text
    tensors = {}
    for _ in range(n_tensors):  # name, n_dims, dims (uint64 each), type, offset
        name, pos = string(pos)
        (n_dims,) = struct.unpack_from("<I", m, pos)
        tensors[name] = struct.unpack_from(f"<{n_dims}Q", m, pos + 4)
        pos += 4 + 8 * n_dims + 4 + 8
    return GGUFHeader(out, tensors)
