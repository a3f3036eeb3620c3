"""Conformance with PyTorch's module database, ``torch.testing._internal.common_modules.module_db``.

Every ModuleInfo is checked in float32 and float64, in training mode (and in eval mode when
the ModuleInfo says the two differ), on each module input (dbcheck_modules.py): the fastgrad
module of the same name is built with the converted constructor arguments and loads torch's
state_dict; the forward outputs, the state_dict after the forward (running statistics), and the
gradients of the inputs and of every parameter (backward of the outputs' sum) are compared.

The ratchet is module_db_status.txt, held as test_op_db.py holds op_db_status.txt:
``--conformance=sample`` (default) runs every agreeing module on its first SAMPLE_LIMIT inputs
per dtype and mode, and every missing module's existence; ``--conformance=full`` runs all and
fails on any change of status; ``python benchmarks/conformance.py --update`` records progress.
"""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")

import dbcheck  # noqa: E402
import dbcheck_modules  # noqa: E402

SAMPLE_LIMIT = 1
RECORDED = dbcheck.read_status(dbcheck_modules.STATUS_FILE)
ENTRIES = dbcheck_modules.entries()


def pytest_generate_tests(metafunc):
    if "module_entry" not in metafunc.fixturenames:
        return
    full = metafunc.config.getoption("--conformance") == "full"
    cases = [pytest.param((key, info), id=key) for key, info, _ in ENTRIES
             if full or RECORDED.get(key) in (dbcheck.AGREE, dbcheck.MISSING)]
    metafunc.parametrize("module_entry", cases)


def test_module_db_entry_keeps_its_status(module_entry, conformance_full):
    key, info = module_entry
    recorded = RECORDED.get(key)
    assert recorded is not None, "%s is not in %s: run python benchmarks/conformance.py --update %s" % (
        key, dbcheck_modules.STATUS_FILE.name, key)
    if recorded == dbcheck.MISSING and not conformance_full:
        assert dbcheck_modules.fastgrad_class(info) is None, dbcheck.ratchet_message(
            "module_db", key, recorded, "a module", "fastgrad has it now")
        return
    status, detail = dbcheck_modules.check(key, info, limit=dbcheck.FULL_LIMIT if conformance_full else SAMPLE_LIMIT)
    assert dbcheck.ratchet_holds(recorded, status), dbcheck.ratchet_message("module_db", key, recorded, status,
                                                                            detail)


def test_status_file_lists_every_module_once_sorted():
    keys = [key for key, _, _ in ENTRIES]
    assert sorted(RECORDED) == sorted(set(keys)), "stale status file: python benchmarks/conformance.py --update"
    lines = [line for line in dbcheck_modules.STATUS_FILE.read_text().splitlines() if not line.startswith("#")]
    assert lines == sorted(lines)
    assert {dbcheck.status_kind(s) for s in RECORDED.values()} <= set(dbcheck.STATUSES)
