"""The suite runs once per backend: CI runs it as is (compiled) and with FASTGRAD_BACKEND=numpy."""
import os

# The reference is torch's AVX2 kernels on every machine: on AVX-512 CPUs torch takes other vectorised
# loops, whose edge values differ (logit's gradient at -0.0 is +inf there, -inf in its AVX2 and scalar
# code; hardswish's gradient at NaN). Set before any test imports torch; a value set outside wins.
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")

import numpy as np  # noqa: E402
import pytest

import fastgrad


def pytest_report_header(config):
    return "fastgrad backend: %s" % fastgrad.get_backend()


@pytest.fixture
def torch():
    """PyTorch as the reference; tests that need it skip cleanly when it is absent. Seeded per test, so
    samples torch draws (OpInfo/ModuleInfo inputs) are the same whichever worker and order run it."""
    t = pytest.importorskip("torch")
    t.manual_seed(0)
    return t


@pytest.fixture
def rng():
    return np.random.default_rng(0)
