"""Which dtype the torch path computes in: bf16 only where the CPU has bf16 instructions (emulated: ~66x slower)."""

from __future__ import annotations

import pytest

from daogou.llm.torch_dtype import native_bf16, resolve_dtype
from daogou.settings import Settings

XEON_AMX = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
EPYC_MILAN = "processor\t: 0\nflags\t\t: fpu sse2 avx2 fma sha_ni\nmodel name\t: AMD EPYC 7B13 bf16-free\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


@pytest.mark.parametrize(("cpuinfo", "native"), [(XEON_AMX, True), (EPYC_MILAN, False), (ARM_BF16, True), ("", False)])
def test_native_bf16_reads_the_cpu_flags(cpuinfo: str, native: bool) -> None:
    assert native_bf16(cpuinfo, env={}) is native


def test_the_model_name_does_not_count_only_the_flags() -> None:
    assert not native_bf16("model name\t: bf16 avx512_bf16 lookalike\n", env={})


@pytest.mark.parametrize("env", [{"ONEDNN_MAX_CPU_ISA": "AVX2"}, {"ATEN_CPU_CAPABILITY": "avx2"},
                                 {"ONEDNN_MAX_CPU_ISA": "avx2_vnni"}, {"ATEN_CPU_CAPABILITY": "default"},
                                 {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}, {"ONEDNN_MAX_CPU_ISA": "avx512_core_vnni"}])
def test_torch_told_to_keep_off_those_instructions_means_float32(env: dict[str, str]) -> None:
    assert not native_bf16(XEON_AMX, env=env)


@pytest.mark.parametrize("env", [{"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"}, {"ONEDNN_MAX_CPU_ISA": "avx512_core_amx"},
                                 {"ONEDNN_MAX_CPU_ISA": "ALL"}, {"ATEN_CPU_CAPABILITY": "avx512"}])
def test_caps_that_keep_bf16_keep_it(env: dict[str, str]) -> None:
    assert native_bf16(XEON_AMX, env=env)


def test_resolve_names_the_bad_value_and_keeps_explicit_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_dtype("float32") == "float32" and resolve_dtype("bfloat16") == "bfloat16"
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    assert resolve_dtype("auto") == "float32"
    with pytest.raises(ValueError, match=r"DAOGOU_TORCH_DTYPE='fp8'.*auto, bfloat16, float32"):
        resolve_dtype("fp8")


def test_settings_read_and_check_daogou_torch_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAOGOU_TORCH_DTYPE", raising=False)
    assert Settings.from_env().torch_dtype == "auto"
    monkeypatch.setenv("DAOGOU_TORCH_DTYPE", " Float32 ")
    assert Settings.from_env().torch_dtype == "float32"
    monkeypatch.setenv("DAOGOU_TORCH_DTYPE", "half")
    with pytest.raises(ValueError, match="DAOGOU_TORCH_DTYPE='half' is not one of auto, bfloat16, float32"):
        Settings.from_env()
