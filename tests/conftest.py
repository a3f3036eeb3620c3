"""The suite runs once per backend: CI runs it as is (compiled) and with FASTGRAD_BACKEND=numpy."""
import numpy as np
import pytest

import fastgrad


def pytest_report_header(config):
    return "fastgrad backend: %s" % fastgrad.get_backend()


@pytest.fixture
def torch():
    """PyTorch as the reference; tests that need it skip cleanly when it is absent."""
    return pytest.importorskip("torch")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
