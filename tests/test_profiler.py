"""fastgrad.profiler: every op call and record_function range is recorded with its CPU time and
nesting; key_averages counts and sums them and prints torch's table layout; schedule gives
torch's actions step by step; on_trace_ready / tensorboard_trace_handler write Chrome traces."""
import json
import warnings

import numpy as np
import pytest

import fastgrad
from fastgrad.profiler import ProfilerAction, ProfilerActivity, profile, record_function, schedule


def _work(n=3, backward=False):
    x = fastgrad.tensor(np.random.default_rng(0).standard_normal((16, 16)), requires_grad=True)
    for _ in range(n):
        y = (x @ x).relu().sum()
    if backward:
        y.backward()  # the backward's own ops are recorded too
    return y


def test_records_each_op_call_with_nesting():
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("model"):
            _work(3)
    events = prof.events()
    top = [e for e in events if e.cpu_parent is None]
    assert [e.name for e in top] == ["model"]
    model = top[0]
    names = [e.name for e in model.cpu_children]
    assert names.count("fastgrad::matmul") == 3 and names.count("fastgrad::relu") == 3
    assert model.cpu_time_total >= sum(c.cpu_time_total for c in model.cpu_children) > 0
    assert abs(events.self_cpu_time_total - model.cpu_time_total) < 1e-6 * max(1.0, model.cpu_time_total)
    mm = [e for e in events if e.name == "fastgrad::matmul"][0]
    assert mm.input_shapes == [[16, 16], [16, 16]]
    avg = {e.key: e for e in prof.key_averages()}
    assert avg["fastgrad::matmul"].count == 3 and avg["model"].count == 1
    assert avg["fastgrad::matmul"].cpu_time == pytest.approx(avg["fastgrad::matmul"].cpu_time_total / 3)
    # nothing is recorded once the profile is closed
    n = len(prof.events())
    _work(1, backward=True)
    assert len(prof.events()) == n


def test_table_layout_matches_torch():
    torch = pytest.importorskip("torch")
    import torch.profiler as tp

    with profile() as prof:
        _work(2, backward=True)
    ours = prof.key_averages().table(sort_by="cpu_time_total", row_limit=3).splitlines()
    x = torch.randn(8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tp.profile(activities=[tp.ProfilerActivity.CPU]) as tprof:
            (x @ x).relu().sum()
    theirs = tprof.key_averages().table(sort_by="cpu_time_total", row_limit=3).splitlines()
    assert len(ours) == len(theirs) == 3 + 3 + 2
    strip_name = [line.split("  ", 1)[-1] if not line.startswith("-") else line[line.index("  "):] for line in
                  (ours[0], ours[1], theirs[0], theirs[1])]
    assert strip_name[0] == strip_name[2] and strip_name[1].strip() == strip_name[3].strip()
    assert ours[1].split() == theirs[1].split()
    assert ours[-1].startswith("Self CPU time total: ")
    totals = [float(line.split()[3].rstrip("%")) for line in ours[3:-2]]
    assert totals == sorted(totals, reverse=True)
    shaped = fastgrad.profiler.profile(record_shapes=True)
    with shaped:
        _work(1)
    assert "Input Shapes" in shaped.key_averages(group_by_input_shape=True).table()


def test_schedule_actions_match_torch():
    torch = pytest.importorskip("torch")
    import torch.profiler as tp

    for kw in (dict(wait=1, warmup=1, active=2), dict(wait=0, warmup=2, active=1, repeat=2),
               dict(wait=2, warmup=1, active=3, skip_first=3), dict(wait=5, warmup=1, active=1, skip_first=2,
                                                                    skip_first_wait=1)):
        ours, theirs = schedule(**kw), tp.schedule(**kw)
        assert [ours(i).name for i in range(25)] == [theirs(i).name for i in range(25)]
    with pytest.raises(AssertionError, match="Invalid profiler schedule arguments. Got wait=0 \\(need >= 0\\), "
                                             "warmup=0 \\(need >= 0\\), active=0 \\(need > 0\\)"):
        schedule(wait=0, warmup=0, active=0)
    with pytest.warns(UserWarning, match="Profiler won't be using warmup"):
        schedule(wait=1, warmup=0, active=1)


def test_steps_on_trace_ready_and_tensorboard_handler(tmp_path):
    traces = []
    handler = fastgrad.profiler.tensorboard_trace_handler(str(tmp_path / "tb"), worker_name="w0")

    def ready(prof):
        traces.append([e.name for e in prof.events()])
        handler(prof)

    with profile(schedule=schedule(wait=1, warmup=1, active=2, repeat=2), on_trace_ready=ready) as prof:
        for _ in range(10):
            _work(1)
            prof.step()
    assert len(traces) == 2
    for names in traces:  # the two active steps only: the warmup step's ops were dropped
        assert names.count("fastgrad::matmul") == 2
        assert [n for n in names if n.startswith("ProfilerStep#")] in (["ProfilerStep#2", "ProfilerStep#3"],
                                                                        ["ProfilerStep#6", "ProfilerStep#7"])
    files = sorted((tmp_path / "tb").iterdir())
    assert len(files) == 2 and all(f.name.startswith("w0.") and f.name.endswith(".pt.trace.json") for f in files)
    trace = json.loads(files[0].read_text())
    ev = [e for e in trace["traceEvents"] if e["name"] == "fastgrad::matmul"]
    assert len(ev) == 2 and all(e["ph"] == "X" and e["dur"] >= 0 for e in ev)


def test_record_function_decorator_and_idle():
    @record_function("helper")
    def helper(t):
        return t * 2

    helper(fastgrad.ones(2))  # no profile: nothing happens
    with profile() as prof:
        helper(fastgrad.ones(2))
    (e,) = [e for e in prof.events() if e.name == "helper"]
    assert [c.name for c in e.cpu_children] == ["fastgrad::mul"] or len(e.cpu_children) == 1
    assert ProfilerAction.RECORD_AND_SAVE.name == "RECORD_AND_SAVE"
    assert fastgrad.profiler.supported_activities() == {ProfilerActivity.CPU}


def test_legacy_autograd_profiler():
    with fastgrad.autograd.profiler.profile() as prof:
        with fastgrad.autograd.profiler.record_function("block"):
            _work(1)
    assert any(e.name == "block" for e in prof.function_events)
    assert "Self CPU time total" in prof.key_averages().table()
