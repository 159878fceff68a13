"""embeddings.backends: "auto" picks the backend for the CPU it runs on."""

from __future__ import annotations

from embeddings.backends import Bf16Encoder, cpu_flags, resolve_backend, with_backend


def test_auto_is_bf16_only_on_a_cpu_with_bf16_units():
    bf16 = frozenset({"avx512f", "avx512_bf16"})
    amx = frozenset({"amx_bf16", "amx_tile"})
    plain = frozenset({"avx2", "avx512f"})
    assert resolve_backend("auto", cpu=True, flags=bf16) == "torch-bf16"
    assert resolve_backend("auto", cpu=True, flags=amx) == "torch-bf16"
    assert resolve_backend("auto", cpu=True, flags=plain) == "torch"
    assert resolve_backend("auto", cpu=False, flags=bf16) == "torch"  # an accelerator: fp32
    for named in ("torch", "torch-bf16", "onnx", "onnx-int8"):
        assert resolve_backend(named, cpu=True, flags=bf16) == named


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512_bf16\n\nprocessor\t: 1\n")
    assert cpu_flags(str(info)) == {"fpu", "sse2", "avx512_bf16"}
    assert cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_auto_runs_the_backend_this_machine_resolves_to(tiny_model_dir):
    from embeddings.encoder import load_encoder

    encoder = load_encoder(str(tiny_model_dir))
    chosen = with_backend(encoder, "auto")
    expected = resolve_backend("auto", cpu=encoder.on_cpu)
    assert isinstance(chosen, Bf16Encoder) == (expected == "torch-bf16")
    assert chosen is encoder or expected == "torch-bf16"
