"""``--conformance``: how much of PyTorch's test databases the conformance suite runs.

``sample`` (the default, what CI runs on each configuration): every entry the status files
record as agreeing, on its first few samples per dtype, and every entry recorded as missing,
on one sample (it must still be missing); ``full``: every entry on every sample, each held to
its recorded status (``python benchmarks/conformance.py`` prints the same census)."""
import pytest


def pytest_addoption(parser):
    parser.addoption("--conformance", choices=("sample", "full"), default="sample",
                     help="conformance suite: 'sample' (default, bounded) or 'full' (every entry and sample)")


@pytest.fixture
def conformance_full(request):
    return request.config.getoption("--conformance") == "full"
