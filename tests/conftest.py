"""The suite runs once per backend: CI runs it as is (compiled) and with FASTGRAD_BACKEND=numpy."""
import numpy as np
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
