"""fastgrad.distributed in one process without MPI started: availability, the errors before
init_process_group, and torch's names for the small types."""
import importlib.util
import sys

import pytest

import fastgrad
import fastgrad.distributed as dist


def test_importing_does_not_start_mpi():
    fastgrad.distributed.is_initialized()
    assert not dist.is_initialized()
    if "mpi4py.MPI" in sys.modules:
        pytest.skip("another test of this process loaded mpi4py.MPI")
    assert "mpi4py.MPI" not in sys.modules


def test_is_available_follows_mpi4py(monkeypatch):
    assert dist.is_available() == (importlib.util.find_spec("mpi4py") is not None)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mpi4py" else real(name, *a))
    assert dist.is_available() is False
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now fails
    with pytest.raises(RuntimeError, match=r"pip install \"fastgrad\[distributed\]\""):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


@pytest.mark.parametrize("call", [lambda: dist.get_rank(), lambda: dist.get_world_size(),
                                  lambda: dist.all_reduce(fastgrad.ones(2)), lambda: dist.barrier(),
                                  lambda: dist.new_group([0])])
def test_before_init_the_errors_are_torchs(call, torch):
    with pytest.raises(ValueError, match="Default process group has not been initialized") as ours:
        call()
    with pytest.raises(ValueError) as theirs:
        torch.distributed.get_rank()
    assert str(ours.value) == str(theirs.value)


def test_ddp_needs_a_process_group():
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        fastgrad.nn.parallel.DistributedDataParallel(fastgrad.nn.Linear(2, 2))


def test_small_types_match_torch(torch):
    td = torch.distributed
    for name in ["SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR", "PREMUL_SUM"]:
        ours, theirs = getattr(dist.ReduceOp, name), getattr(td.ReduceOp, name)
        assert repr(ours) == repr(theirs) and str(ours) == str(theirs) and int(ours) == int(theirs)
    assert dist.Backend("MPI") == td.Backend("MPI") == "mpi" and dist.Backend.GLOO == td.Backend.GLOO
    assert dist.GroupMember.NON_GROUP_MEMBER == td.GroupMember.NON_GROUP_MEMBER
    assert dist.group.WORLD is None and dist.default_pg_timeout == td.default_pg_timeout
    for name in ["init_process_group", "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor",
                 "reduce_scatter_tensor", "reduce", "gather", "scatter", "send", "recv", "isend", "irecv",
                 "barrier", "new_group", "destroy_process_group", "all_gather_object", "broadcast_object_list"]:
        import inspect

        ours = list(inspect.signature(getattr(dist, name)).parameters)
        theirs = [p for p in inspect.signature(getattr(td, name)).parameters if not p.startswith("_")]
        assert ours == theirs, name


def test_nccl_is_refused():
    with pytest.raises(RuntimeError, match="MPI"):
        dist.init_process_group("nccl")
