"""torch.backends' submodules and torch.nn.attention: what scripts read and set (``torch.backends.cudnn.benchmark
= True``, ``torch.backends.cuda.matmul.allow_tf32 = True``, ``torch.backends.mps.is_available()``,
``with sdpa_kernel(SDPBackend.MATH)``), each compared with torch's CPU build."""
import pytest

import fastgrad

QUERIES = {
    "cudnn.is_available": lambda t: t.backends.cudnn.is_available(),
    "cudnn.version": lambda t: t.backends.cudnn.version(),
    "cudnn.enabled": lambda t: t.backends.cudnn.enabled,
    "cudnn.benchmark": lambda t: t.backends.cudnn.benchmark,
    "cudnn.deterministic": lambda t: t.backends.cudnn.deterministic,
    "cudnn.allow_tf32": lambda t: t.backends.cudnn.allow_tf32,
    "cuda.is_built": lambda t: t.backends.cuda.is_built(),
    "cuda.matmul.allow_tf32": lambda t: t.backends.cuda.matmul.allow_tf32,
    "cuda.flash_sdp_enabled": lambda t: t.backends.cuda.flash_sdp_enabled(),
    "cuda.math_sdp_enabled": lambda t: t.backends.cuda.math_sdp_enabled(),
    "cuda.mem_efficient_sdp_enabled": lambda t: t.backends.cuda.mem_efficient_sdp_enabled(),
    "mps.is_available": lambda t: t.backends.mps.is_available(),
    "mps.is_built": lambda t: t.backends.mps.is_built(),
    "openmp.is_available": lambda t: t.backends.openmp.is_available(),
    "mha.get_fastpath_enabled": lambda t: t.backends.mha.get_fastpath_enabled(),
    "quantized.engine": lambda t: t.backends.quantized.engine,
}


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_query_as_torch_cpu(name, torch):
    if name == "openmp.is_available" and fastgrad.get_backend() == "numpy":
        assert fastgrad.backends.openmp.is_available() is False  # no compiled kernels, no OpenMP
        return
    assert QUERIES[name](fastgrad) == QUERIES[name](torch)


def test_cpu_capability_as_torch(torch):
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}  # (the suite pins torch's kernels)
    theirs = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu.get_cpu_capability())"],
                            env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert fastgrad.backends.cpu.get_cpu_capability() == theirs


def test_flags_are_kept_and_restored():
    cudnn = fastgrad.backends.cudnn
    before = (cudnn.benchmark, cudnn.deterministic)
    try:
        cudnn.benchmark, cudnn.deterministic = True, True
        assert fastgrad.backends.cudnn.benchmark and fastgrad.backends.cudnn.deterministic
        with cudnn.flags(enabled=False, benchmark=False, deterministic=False):
            assert not cudnn.enabled and not cudnn.benchmark and not cudnn.deterministic
        assert cudnn.enabled and cudnn.benchmark and cudnn.deterministic
    finally:
        cudnn.benchmark, cudnn.deterministic = before
    fastgrad.backends.cuda.matmul.allow_tf32 = True  # nanoGPT's train.py
    fastgrad.backends.cuda.matmul.allow_tf32 = False


def test_sdpa_kernel_switches_as_torch(torch):
    from fastgrad.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.attention import SDPBackend as TB
    from torch.nn.attention import sdpa_kernel as tk
    assert {b.name: b.value for b in SDPBackend} == {n: getattr(TB, n).value for n in
                                                     ("ERROR", "MATH", "FLASH_ATTENTION", "EFFICIENT_ATTENTION",
                                                      "CUDNN_ATTENTION", "OVERRIDEABLE")}
    for ours, theirs, lib in ((SDPBackend, sdpa_kernel, fastgrad), (TB, tk, torch)):
        with theirs([ours.MATH]):
            assert (lib.backends.cuda.flash_sdp_enabled(), lib.backends.cuda.math_sdp_enabled()) == (False, True)
        assert lib.backends.cuda.flash_sdp_enabled()
        with pytest.raises(AssertionError, match="Backend must be an instance of SDPBackend"):
            with theirs("math"):
                pass
    q, tq = fastgrad.randn(1, 2, 4, 8), torch.randn(1, 2, 4, 8)
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        fastgrad.nn.functional.scaled_dot_product_attention(q, q, q)
    for ours, theirs, lib, x in ((SDPBackend, sdpa_kernel, fastgrad, q), (TB, tk, torch, tq)):
        with theirs([ours.EFFICIENT_ATTENTION, ours.CUDNN_ATTENTION]):  # neither runs on a CPU
            with pytest.raises(RuntimeError, match="^No viable backend for scaled_dot_product_attention was found"):
                lib.nn.functional.scaled_dot_product_attention(x, x, x)


def test_backends_modules_import_by_path():
    import fastgrad.backends.cuda
    import fastgrad.backends.cudnn as cudnn  # `import torch.backends.cudnn as cudnn`
    import fastgrad.nn.attention  # noqa: F401
    assert cudnn is fastgrad.backends.cudnn and fastgrad.backends.cuda.is_built() is False
