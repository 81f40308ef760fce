"""Which dtype the torch path (the transformers reference, `daogou tune`) computes in.

bfloat16 halves the memory, and on a CPU with bf16 instructions (x86 AVX512-BF16 or AMX, Arm BF16) it is also
the fastest. Without them torch emulates it, and that is ruinous. Measured with one thread, a 128x896 @ 896x4864
matmul (one MLP projection of a 128-token sequence), torch 2.13:

- with AMX: bf16 1.4 ms against 6.2 ms in float32;
- with those instructions turned off (`ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2`, as on a CPU without
  them): bf16 571 ms against 8.6 ms in float32, 66x slower.

One step of `daogou tune copy` (0.5B, 128 tokens, 2 threads): 1.2 s in bf16 and 2.9 s in float32 with AMX; 167 s
in bf16 and 2.6 s in float32 with them off. CI killed the 2-step tune test after 10 minutes (61 s with AMX),
as bf16 emulation would.

So "auto" (the default) picks bfloat16 only where the CPU has them, else float32 (the 0.5B then takes 2 GB of
RAM instead of 1). DAOGOU_TORCH_DTYPE=bfloat16 or float32 forces one.
"""

from __future__ import annotations

import os
from pathlib import Path

from daogou.settings import TORCH_DTYPES

__all__ = ["TORCH_DTYPES", "native_bf16", "resolve_dtype"]

_X86_FLAGS = {"avx512_bf16", "amx_bf16"}
# ONEDNN_MAX_CPU_ISA values that keep bf16 (oneDNN: avx512_core_bf16, avx2_vnni_2, avx512_core_amx...; "all"):
# any other cap (sse41, avx2, avx512_core, avx512_core_vnni) leaves bf16 matmuls emulated
_ONEDNN_BF16 = ("bf16", "amx", "avx2_vnni_2", "all")


def native_bf16(cpuinfo: str | None = None, env: dict[str, str] | None = None) -> bool:
    """True when the CPU multiplies bfloat16 in hardware (and torch is not told to keep off those instructions).

    `cpuinfo`: the text of /proc/cpuinfo (read when None; no such file -> False). `env`: os.environ when None.
    """
    env = dict(os.environ) if env is None else env
    onednn = env.get("ONEDNN_MAX_CPU_ISA", "").strip().lower()
    if onednn and not any(word in onednn for word in _ONEDNN_BF16):
        return False
    if env.get("ATEN_CPU_CAPABILITY", "").strip().lower() in ("default", "avx2"):
        return False
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        words = set(value.split())
        if key.strip() == "flags" and words & _X86_FLAGS:
            return True
        if key.strip() == "Features" and "bf16" in words:  # aarch64
            return True
    return False


def resolve_dtype(name: str) -> str:
    """"bfloat16" or "float32" for a setting of TORCH_DTYPES ("auto": bfloat16 only with native_bf16())."""
    if name not in TORCH_DTYPES:
        raise ValueError(f"DAOGOU_TORCH_DTYPE={name!r} is not one of {', '.join(TORCH_DTYPES)}; "
                         "set one of them or unset it (auto)")
    if name == "auto":
        return "bfloat16" if native_bf16() else "float32"
    return name
