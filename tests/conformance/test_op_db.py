"""Conformance with PyTorch's op database, ``torch.testing._internal.common_methods_invocations.op_db``.

Every OpInfo entry is checked in each call variant it has (the function, the Tensor method, the
in-place method on a clone of the input) in float32 and float64 (an op that takes neither: the
first of int64, bool, complex64, ... it takes): each of its sample inputs is converted to
fastgrad (dbcheck.py: tensors with their dtype and requires_grad, nested lists and dicts), the
same-named fastgrad callable is called (the OpInfo's own wrapper, when it has one, with fastgrad
in torch's place), outputs are compared (shape, dtype, values within torch's tolerance for the
op and dtype), then the sum of the outputs is backpropagated on both sides and the gradients of
the inputs compared; the sample's output_process_fn_grad is applied to both libraries' outputs
first (for outputs defined up to a sign, as singular vectors). A sample torch rejects must be
rejected by fastgrad too. Random ops (torch's wrappers seed them) and ``empty*`` are compared by
shape and dtype.

The ratchet: op_db_status.txt records every entry's status (agree, differ, raise, missing,
out_of_scope(reason)). Out of scope by name: ``jiterator_*``, leading underscores, ``ops.*``,
``sparse.*``, entries without CPU dtypes; dbcheck_ops.OUT_OF_SCOPE_ENTRIES holds deliberate
exclusions with their reason. ``--conformance=sample`` (default) runs every agreeing entry on its
first SAMPLE_LIMIT samples per dtype (float32 alone for the method and in-place variants; they
must still agree) and every missing entry (it must still be missing: most have no callable, and
nothing runs); ``python -m pytest tests/conformance --conformance=full`` runs every entry on its
first dbcheck.FULL_LIMIT samples per dtype (what the status file records) and fails on any
change of status (differ and raise may trade places): progress is recorded with
``python benchmarks/conformance.py --update [key prefixes]``.
"""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")

import dbcheck  # noqa: E402
import dbcheck_ops  # noqa: E402

SAMPLE_LIMIT = 1
RECORDED = dbcheck.read_status(dbcheck_ops.STATUS_FILE)
ENTRIES = dbcheck_ops.entries()


def pytest_generate_tests(metafunc):
    if "op_entry" not in metafunc.fixturenames:
        return
    full = metafunc.config.getoption("--conformance") == "full"
    cases = []
    for key, opinfo, kind in ENTRIES:
        recorded = RECORDED.get(key)
        if full or recorded in (dbcheck.AGREE, dbcheck.MISSING):
            cases.append(pytest.param((key, opinfo, kind), id=key))
    metafunc.parametrize("op_entry", cases)


def test_op_db_entry_keeps_its_status(op_entry, conformance_full):
    key, opinfo, kind = op_entry
    recorded = RECORDED.get(key)
    assert recorded is not None, "%s is not in %s: run python benchmarks/conformance.py --update %s" % (
        key, dbcheck_ops.STATUS_FILE.name, key)
    # a missing entry: the callable is absent (nothing runs) or a sample needs what fastgrad lacks
    limit = dbcheck.FULL_LIMIT if conformance_full or recorded == dbcheck.MISSING else SAMPLE_LIMIT
    # sampled: the method and in-place variants (the function's code behind another door) in float32 alone
    first_dtype_only = not conformance_full and kind != "" and recorded != dbcheck.MISSING
    status, detail = dbcheck_ops.check(key, opinfo, kind, limit, first_dtype_only)
    assert dbcheck.ratchet_holds(recorded, status), dbcheck.ratchet_message("op_db", key, recorded, status, detail)


def test_status_file_lists_every_entry_once_sorted():
    keys = [key for key, _, _ in ENTRIES]
    assert len(keys) == len(set(keys)), "op_db keys are not unique"
    assert sorted(RECORDED) == sorted(keys), "stale status file: python benchmarks/conformance.py --update"
    lines = [line for line in dbcheck_ops.STATUS_FILE.read_text().splitlines() if not line.startswith("#")]
    assert lines == sorted(lines)
    assert {dbcheck.status_kind(s) for s in RECORDED.values()} <= set(dbcheck.STATUSES)


def test_out_of_scope_entries_are_the_rules():
    """out_of_scope is given by the name rules and OUT_OF_SCOPE_ENTRIES alone, with their reason."""
    for key, opinfo, _ in ENTRIES:
        reason = dbcheck_ops.scope_reason(key, opinfo)
        recorded = RECORDED.get(key, "")
        if reason is not None:
            assert recorded == "%s(%s)" % (dbcheck.OUT_OF_SCOPE, reason), key
        else:
            assert dbcheck.status_kind(recorded) != dbcheck.OUT_OF_SCOPE, key
