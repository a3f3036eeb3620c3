"""torch.futures (Future, then, collect_all, wait_all: the same results and errors as torch's)
and torch.overrides' __torch_function__ helpers."""
import threading

import numpy as np

import pytest

import fastgrad

torch = pytest.importorskip("torch")


def test_futures_like_torch():
    for lib in (fastgrad, torch):
        fut = lib.futures.Future()
        chained = fut.then(lambda f: f.value() * 10)
        seen = []
        fut.add_done_callback(lambda f: seen.append(f.value()))
        assert not fut.done()
        threading.Timer(0.01, lambda: fut.set_result(4)).start()
        assert fut.wait() == 4 and chained.wait() == 40 and fut.done()
        for _ in range(200):  # callbacks run on the completing thread, possibly after wait() returns (torch)
            if seen:
                break
            threading.Event().wait(0.01)
        assert seen == [4]
        with pytest.raises(RuntimeError):
            fut.set_result(5)
        others = [lib.futures.Future() for _ in range(3)]
        allf = lib.futures.collect_all(others)
        for i, f in enumerate(others):
            f.set_result(i)
        assert [f.value() for f in allf.wait()] == [0, 1, 2]
        assert lib.futures.wait_all(others) == [0, 1, 2]
        bad = lib.futures.Future()
        after = bad.then(lambda f: f.value() + 1)
        bad.set_exception(ValueError("boom"))
        with pytest.raises(ValueError, match="boom"):
            bad.wait()
        with pytest.raises(RuntimeError, match="Got the following error when running the callback: ValueError: boom"):
            after.wait()


def test_overrides_helpers():
    class Wrapped:
        def __init__(self, v):
            self.v = v

        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            return ("handled", func.__name__, len(args))

    for lib in (fastgrad, torch):
        o = lib.overrides
        w = Wrapped(1)
        assert o.is_tensor_like(lib.ones(1)) and o.is_tensor_like(w) and not o.is_tensor_like(3)
        assert o.has_torch_function((w,)) and not o.has_torch_function((lib.ones(1), 2))

        def my_add(a, b):
            if o.has_torch_function((a, b)):
                return o.handle_torch_function(my_add, (a, b), a, b)
            return a + b

        assert my_add(w, 2) == ("handled", "my_add", 2)
        assert my_add(2, 3) == 5
    assert fastgrad.overrides.resolve_name(fastgrad.add) == "torch.add"


def test_hub_local_and_state_dict_from_url(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "hubconf.py").write_text(
        "import fastgrad\n\ndef tiny(n=2):\n    '''A tiny linear model.'''\n    return fastgrad.nn.Linear(n, 1)\n\n"
        "def _private():\n    pass\n")
    hub = fastgrad.hub
    assert hub.list(str(repo), source="local") == ["tiny"]
    assert hub.help(str(repo), "tiny", source="local") == "A tiny linear model."
    m = hub.load(str(repo), "tiny", 3, source="local")
    assert isinstance(m, fastgrad.nn.Linear) and m.in_features == 3
    with pytest.raises(RuntimeError, match="Cannot find callable nope in hubconf"):
        hub.load(str(repo), "nope", source="local")
    with pytest.raises(ValueError, match='Unknown source: "svn"'):
        hub.load(str(repo), "tiny", source="svn")
    old = hub.get_dir()
    try:
        hub.set_dir(str(tmp_path / "hubdir"))
        assert hub.get_dir() == str(tmp_path / "hubdir")
        ck = tmp_path / "weights-abc.pt"
        torch.save({"w": torch.arange(3.0)}, str(ck))  # a checkpoint written by torch
        sd = hub.load_state_dict_from_url(ck.as_uri())
        assert sd["w"].tolist() == [0.0, 1.0, 2.0]
        assert (tmp_path / "hubdir" / "checkpoints" / "weights-abc.pt").exists()
        with pytest.raises(RuntimeError, match="invalid hash value"):
            hub.download_url_to_file(ck.as_uri(), str(tmp_path / "x.pt"), hash_prefix="0000")
    finally:
        hub.set_dir(old)


@pytest.mark.parametrize("dim", [1, 3, 40])
def test_sobol_engine_matches_torch(dim):
    f, t = fastgrad.quasirandom.SobolEngine(dim), torch.quasirandom.SobolEngine(dim)
    assert repr(f) == repr(t)
    for step in (lambda e: e.draw(1), lambda e: e.draw(7), lambda e: e.fast_forward(5) and e.draw(3),
                 lambda e: e.draw(4, dtype=e_dtype(e, "float64")), lambda e: e.reset().draw_base2(3)):
        a, b = step(f), step(t)
        assert str(a.dtype).split(".")[1] == str(b.dtype).split(".")[1]
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert f.num_generated == t.num_generated
    for lib in (fastgrad, torch):
        e = lib.quasirandom.SobolEngine(2)
        e.draw(3)
        with pytest.raises(ValueError, match="n=3\\+2\\*\\*1=5"):
            e.draw_base2(1)
        with pytest.raises(ValueError, match="Supported range of dimensionality for SobolEngine is \\[1, 21201\\]"):
            lib.quasirandom.SobolEngine(0)
    s = fastgrad.quasirandom.SobolEngine(3, scramble=True, seed=7)
    pts = s.draw_base2(6).numpy()
    assert repr(s) == "SobolEngine(dimension=3, scramble=True, seed=7)"
    # a scrambled net of 64 points: each of the 8 equal slabs of each axis holds 8 points
    for d in range(3):
        assert np.bincount((pts[:, d] * 8).astype(int), minlength=8).tolist() == [8] * 8


def e_dtype(e, name):
    return getattr(fastgrad if isinstance(e, fastgrad.quasirandom.SobolEngine) else torch, name)
