"""Modules scripts import at top level: fastgrad.onnx, fastgrad.accelerator,
fastgrad.utils.tensorboard (SummaryWriter: real event files, read back and compared with PyTorch's
writer), fastgrad.serialization's allow-list API."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastgrad


def test_onnx_is_importable_and_export_says_not_implemented():
    import fastgrad.onnx as onnx

    assert fastgrad.onnx is onnx and onnx.is_in_onnx_export() is False
    assert issubclass(onnx.OnnxExporterError, RuntimeError)
    with pytest.raises(NotImplementedError, match="onnx.export"):
        onnx.export(fastgrad.nn.Linear(2, 2), (fastgrad.ones(1, 2),), "m.onnx", input_names=["x"], opset_version=17)
    assert not os.path.exists("m.onnx")


def test_accelerator_matches_torch_cpu_build(torch):
    a, ta = fastgrad.accelerator, torch.accelerator
    assert a.is_available() is ta.is_available() is False
    assert a.current_accelerator() is None and ta.current_accelerator() is None
    assert a.current_accelerator(check_available=True) is None
    assert a.device_count() == ta.device_count() == 0
    for name in ("current_device_index", "synchronize", "empty_cache", "memory_allocated"):
        with pytest.raises(RuntimeError) as te:
            getattr(ta, name)()
        with pytest.raises(RuntimeError) as fe:
            getattr(a, name)()
        assert str(fe.value) == str(te.value)
    assert set(ta.__all__) - {"Graph"} <= set(a.__all__) | {"Graph"}


def _events(logdir):
    """{run (relative dir): [(tag, step, value)]} from the event files under logdir."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    out = {}
    for root, _, files in os.walk(logdir):
        for f in sorted(files):
            if "tfevents" not in f:
                continue
            run = os.path.relpath(root, logdir)
            for ev in EventFileLoader(os.path.join(root, f)).Load():
                if not ev.HasField("summary"):
                    continue
                for v in ev.summary.value:
                    if v.HasField("histo"):
                        h = v.histo
                        val = ("histo", h.min, h.max, h.num, round(h.sum, 4), round(h.sum_squares, 4),
                               tuple(h.bucket_limit), tuple(h.bucket))
                    elif v.HasField("tensor"):
                        t = v.tensor
                        val = ("tensor", v.metadata.plugin_data.plugin_name, tuple(t.string_val),
                               tuple(round(x, 5) for x in t.float_val))
                    else:
                        val = round(v.simple_value, 5)
                    out.setdefault(run, []).append((v.tag, ev.step, val))
    return out


def _log(L, SummaryWriter, logdir):
    vals = np.linspace(-2.0, 3.0, 50).astype(np.float32)
    with SummaryWriter(logdir) as w:
        for step in range(3):
            w.add_scalar("loss", L.tensor(1.0 / (step + 1)), step)
            w.add_scalar("lr", 0.1 * step, global_step=step)
            w.add_scalar("np", np.float32(step), step, new_style=True)
            w.add_scalars("acc", {"train": step * 0.25, "val": L.tensor(step * 0.5)}, step)
        w.add_histogram("weights", L.tensor(vals), 7)
        w.add_histogram("w_np", vals * 2, 8, bins="auto")
        w.add_histogram("w_max", L.tensor(vals), 9, max_bins=10)
        w.add_text("notes", "hello **world**", 1)
        w.flush()
        assert w.get_logdir() == logdir


def test_summary_writer_writes_what_torch_writes(torch, tmp_path):
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter as TW

    from fastgrad.utils.tensorboard import SummaryWriter as FW

    _log(torch, TW, str(tmp_path / "torch"))
    _log(fastgrad, FW, str(tmp_path / "fg"))
    want, got = _events(str(tmp_path / "torch")), _events(str(tmp_path / "fg"))
    assert set(got) == {".", "acc_train", "acc_val"} and got == want


def test_summary_writer_api(tmp_path):
    pytest.importorskip("tensorboard")
    from fastgrad.utils.tensorboard import FileWriter, RecordWriter, SummaryWriter  # noqa: F401

    w = SummaryWriter(str(tmp_path / "run"), purge_step=5, flush_secs=1, filename_suffix=".x")
    with pytest.warns(UserWarning, match="add_graph"):
        w.add_graph(fastgrad.nn.Linear(2, 2), fastgrad.ones(1, 2))
    w.add_hparams({"lr": 0.1, "bs": 32, "opt": "sgd", "t": fastgrad.tensor([0.5])}, {"hp/loss": 0.25})
    with pytest.raises(NotImplementedError, match="add_image"):
        w.add_image("img", fastgrad.zeros(3, 4, 4))
    w.add_scalar("after", 1.0, 0)
    w.close()
    w.close()  # a second close is fine
    w.add_scalar("reopened", 2.0, 1)  # writing after close opens a new event file
    w.close()
    files = os.listdir(tmp_path / "run")
    files = [f for f in files if "tfevents" in f]
    assert all(f.endswith(".x") for f in files) and len(files) == 2  # the hparams run (a subdir) has no suffix
    ev = _events(str(tmp_path / "run"))
    scalars = {(tag, step): val for tag, step, val in ev["."]}  # (the loader migrates simple values to tensors)
    assert scalars[("after", 0)][-1] == (1.0,) and scalars[("reopened", 1)][-1] == (2.0,)
    assert any(tag.startswith("_hparams_") for run, items in ev.items() if run != "." for tag, _, _ in items)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with SummaryWriter(comment="_exp") as w2:
            assert w2.get_logdir().startswith("runs" + os.sep) and w2.get_logdir().endswith("_exp")
    finally:
        os.chdir(cwd)


def test_summary_writer_without_tensorboard_names_it():
    code = ("import sys; sys.modules['tensorboard'] = None\n"
            "try:\n    from fastgrad.utils.tensorboard import SummaryWriter\n"
            "except ImportError as e:\n    print('ImportError:', e)\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fastgrad.__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "ImportError:" in out.stdout and "tensorboard" in out.stdout and "pip install tensorboard" in out.stdout


def test_serialization_allow_list_api_exists():
    s = fastgrad.serialization
    for name in ("safe_globals", "add_safe_globals", "get_safe_globals", "clear_safe_globals"):
        assert callable(getattr(s, name))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with s.safe_globals([int]):
            assert s.get_safe_globals() == [int]
    assert s.get_safe_globals() == []
