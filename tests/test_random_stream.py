"""fastgrad draws torch's random numbers: after the same manual_seed, every random function gives
torch 2.13's CPU results bit for bit (and leaves the generator in torch's state), on whichever
backend this process runs; the compiled kernels and their NumPy twin agree word for word."""
import importlib.util
import pathlib

import numpy as np
import pytest

import fastgrad
import fastgrad.nn.functional as F

torch = pytest.importorskip("torch")
SEEDS = [0, 1, 7, 42, 12345, 2**32 + 3, 2**63 + 11]
SIZES = [1, 3, 15, 16, 17, 31, 100, 1001]
FLOATS = ["float32", "float64", "float16", "bfloat16"]


def _np(t):
    t = t.detach()
    if t.dtype in (torch.bfloat16, torch.float16) if isinstance(t, torch.Tensor) else \
            t.dtype in (fastgrad.bfloat16, fastgrad.float16):
        t = t.float()
    return t.numpy()


def same(a, b):
    x, y = np.ascontiguousarray(_np(a)), np.ascontiguousarray(_np(b))
    assert x.shape == y.shape and x.dtype == y.dtype, (x.shape, y.shape, x.dtype, y.dtype)
    assert np.array_equal(x.view(np.uint8), y.view(np.uint8)), (x.ravel()[:8], y.ravel()[:8])


def same_state():
    assert np.array_equal(fastgrad.get_rng_state().numpy(), torch.get_rng_state().numpy())


def both(fn, seed=0):
    """fn(lib) run after lib.manual_seed(seed) on fastgrad and on torch: same bits, same state."""
    fastgrad.manual_seed(seed)
    a = fn(fastgrad)
    torch.manual_seed(seed)
    b = fn(torch)
    if isinstance(a, (tuple, list)):
        for x, y in zip(a, b):
            same(x, y)
    else:
        same(a, b)
    same_state()


# --------------------------------------------------------------------------- generator and state
def test_seed_and_state_layout():
    for seed in SEEDS + [-1, -(2**63)]:
        assert fastgrad.manual_seed(seed).initial_seed() == torch.manual_seed(seed).initial_seed()
        same_state()
        for n in (3, 700, 20):
            fastgrad.rand(n)
            torch.rand(n)
            same_state()
    assert fastgrad.Generator().initial_seed() == torch.Generator().initial_seed()
    assert tuple(fastgrad.get_rng_state().shape) == (5056,) and fastgrad.get_rng_state().dtype == fastgrad.uint8


def test_cached_normal_in_state_and_set_state_from_torch():
    fastgrad.manual_seed(3)
    torch.manual_seed(3)
    same(fastgrad.randn(3, dtype=fastgrad.float64), torch.randn(3, dtype=torch.float64))  # caches one sample
    same_state()
    state = torch.get_rng_state()
    fastgrad.set_rng_state(fastgrad.tensor(state.numpy()))
    same(fastgrad.randn(5), torch.randn(5))
    same_state()
    with pytest.raises(RuntimeError):
        fastgrad.set_rng_state(fastgrad.zeros(10, dtype=fastgrad.uint8))


def test_generator_objects():
    g, tg = fastgrad.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    fastgrad.manual_seed(0)
    torch.manual_seed(0)
    same(fastgrad.rand(20, generator=g), torch.rand(20, generator=tg))
    s, ts = g.get_state(), tg.get_state()
    assert np.array_equal(s.numpy(), ts.numpy())
    a = fastgrad.randn(40, generator=g)
    g.set_state(s)
    same(fastgrad.randn(40, generator=g), a)
    same(a, torch.randn(40, generator=tg))
    same(fastgrad.randint(0, 9, (30,), generator=g), torch.randint(0, 9, (30,), generator=tg))
    same(fastgrad.randperm(30, generator=g), torch.randperm(30, generator=tg))
    same(fastgrad.empty(20).uniform_(-2, 3, generator=g), torch.empty(20).uniform_(-2, 3, generator=tg))
    same(fastgrad.empty(20).normal_(1, 2, generator=g), torch.empty(20).normal_(1, 2, generator=tg))
    same(fastgrad.empty(20, dtype=fastgrad.int64).random_(generator=g),
         torch.empty(20, dtype=torch.int64).random_(generator=tg))
    same(fastgrad.empty(9).exponential_(generator=g), torch.empty(9).exponential_(generator=tg))
    p = np.linspace(0.05, 0.95, 12).astype(np.float32)
    same(fastgrad.bernoulli(fastgrad.tensor(p), generator=g), torch.bernoulli(torch.tensor(p), generator=tg))
    same(fastgrad.multinomial(fastgrad.tensor(p), 5, generator=g), torch.multinomial(torch.tensor(p), 5, generator=tg))
    same_state()  # the default generator was not touched
    assert np.array_equal(g.get_state().numpy(), tg.get_state().numpy())


# --------------------------------------------------------------------------- creation
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("fn", ["rand", "randn"])
def test_rand_randn(fn, dtype):
    for seed in SEEDS[:4]:
        for n in SIZES:
            both(lambda L: getattr(L, fn)(n, dtype=getattr(L, dtype)), seed)
        both(lambda L: getattr(L, fn)(4, 5, 3, dtype=getattr(L, dtype)), seed)


def test_like_and_call_orders():
    def run(L):
        x = L.zeros(5, 7)
        return [L.rand_like(x), L.randn_like(x), L.randint_like(x, 3, 9), L.randn(2), L.randn(3, dtype=L.float64),
                L.randn(20), L.rand(1, dtype=L.float64), L.randn(1), L.randn(1)]
    for seed in SEEDS[:3]:
        both(run, seed)


@pytest.mark.parametrize("low,high", [(0, 10), (-5, 1000), (0, 2**31), (0, 2**32), (3, 2**32 + 7),
                                      (-(2**40), 2**41), (-(2**62), 2**62)])
def test_randint(low, high):
    for seed in SEEDS[:3]:
        both(lambda L: L.randint(low, high, (257,)), seed)
    both(lambda L: L.randint(high, (5, 6)))


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "float32", "float64", "float16", "bfloat16"])
def test_randint_dtypes(dtype):
    both(lambda L: L.randint(0, 100, (64,), dtype=getattr(L, dtype)))
    both(lambda L: L.randint(-3, 50, (64,), dtype=getattr(L, dtype)) if dtype != "uint8" else L.randint(3, 50, (9,), dtype=L.uint8))


@pytest.mark.parametrize("n", [0, 1, 2, 5, 100, 5000])
def test_randperm(n):
    for seed in SEEDS[:3]:
        both(lambda L: L.randperm(n), seed)
    both(lambda L: L.randperm(n, dtype=L.float32))


def test_normal_overloads():
    m = np.linspace(-3, 3, 20).astype(np.float32).reshape(4, 5)
    s = np.linspace(0.1, 2, 20).astype(np.float32).reshape(4, 5)
    for seed in SEEDS[:3]:
        both(lambda L: L.normal(0.5, 2.0, (3, 7)), seed)
        both(lambda L: L.normal(0.5, 2.0, (40,)), seed)
        both(lambda L: L.normal(L.tensor(m), 0.7), seed)
        both(lambda L: L.normal(1.5, L.tensor(s)), seed)
        both(lambda L: L.normal(L.tensor(m), L.tensor(s)), seed)
        both(lambda L: L.normal(L.tensor(m[:1, :3].astype(np.float64)), L.tensor(s[:1, :3].astype(np.float64))), seed)


# --------------------------------------------------------------------------- in-place methods
@pytest.mark.parametrize("dtype", FLOATS)
def test_uniform_normal_inplace(dtype):
    for n in (5, 16, 50):
        both(lambda L: L.empty(n, dtype=getattr(L, dtype)).uniform_(-2.5, 7.25))
        both(lambda L: L.empty(n, dtype=getattr(L, dtype)).normal_(0.3, 1.7))
    both(lambda L: L.empty(6, 8, dtype=getattr(L, dtype)).t().uniform_(-1, 1))   # memory order
    both(lambda L: L.empty(6, 8, dtype=getattr(L, dtype)).t().normal_(2, 3))     # not contiguous: per element


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "uint8", "bool", "float32", "float64",
                                   "float16", "bfloat16"])
def test_random_(dtype):
    for seed in SEEDS[:3]:
        both(lambda L: L.empty(50, dtype=getattr(L, dtype)).random_(), seed)
        both(lambda L: L.empty(50, dtype=getattr(L, dtype)).random_(2), seed)
        both(lambda L: L.empty(50, dtype=getattr(L, dtype)).random_(0, 2), seed)
    if dtype in ("int64", "float64", "float32"):
        both(lambda L: L.empty(50, dtype=getattr(L, dtype)).random_(-5, 2**33))


def test_random_full_range_and_errors():
    both(lambda L: L.empty(20, dtype=L.int64).random_(-(2**63), None))
    for L in (fastgrad, torch):
        with pytest.raises(RuntimeError, match="from=5 >= to=5"):
            L.empty(3).random_(5, 5)
        with pytest.raises(RuntimeError, match="to - 1 is out of bounds for unsigned char"):
            L.randint(0, 300, (2,), dtype=L.uint8)


def test_bernoulli():
    for dt in ("float32", "float64"):
        p = np.linspace(0, 1, 37).astype(dt)
        both(lambda L: L.bernoulli(L.tensor(p)))
        both(lambda L: L.empty(37, dtype=getattr(L, dt)).bernoulli_(0.3))
        both(lambda L: L.empty(37, dtype=getattr(L, dt)).bernoulli_(L.tensor(p)))
        both(lambda L: L.bernoulli(L.zeros(4, 9, dtype=getattr(L, dt)), 0.75))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_continuous_inplace(dtype):
    for n in (7, 100):
        both(lambda L: L.empty(n, dtype=getattr(L, dtype)).exponential_(2.5))
        both(lambda L: L.empty(n, dtype=getattr(L, dtype)).geometric_(0.3))
        both(lambda L: L.empty(n, dtype=getattr(L, dtype)).cauchy_(0.5, 2.0))
        both(lambda L: L.empty(n, dtype=getattr(L, dtype)).log_normal_(0.2, 0.5))


def test_multinomial():
    p = np.random.default_rng(0).random((3, 50)).astype(np.float32)
    p[:, 7] = 0
    for rep, n in [(True, 20), (True, 1), (False, 10), (False, 1), (False, 50)]:
        for seed in SEEDS[:3]:
            both(lambda L: L.multinomial(L.tensor(p), n, replacement=rep), seed)
            both(lambda L: L.multinomial(L.tensor(p[0].astype(np.float64)), n, replacement=rep), seed)


# --------------------------------------------------------------------------- nn
def test_dropout_family():
    x = np.random.default_rng(1).standard_normal((4, 6, 3, 2)).astype(np.float32)
    for p in (0.1, 0.3, 0.5, 0.9):
        both(lambda L: L.nn.functional.dropout(L.tensor(x), p))
        both(lambda L: L.nn.Dropout(p)(L.tensor(x)))
        both(lambda L: L.nn.functional.dropout2d(L.tensor(x), p))
        both(lambda L: L.nn.functional.alpha_dropout(L.tensor(x), p, training=True))
    assert F is not None


def test_rrelu_training():
    x = np.random.default_rng(2).standard_normal((5, 40)).astype(np.float32)
    both(lambda L: L.nn.functional.rrelu(L.tensor(x), training=True))
    both(lambda L: L.nn.functional.rrelu(L.tensor(x.astype(np.float64)), 0.1, 0.4, training=True))


def _params(m):
    return [p for _, p in sorted(m.named_parameters())]


@pytest.mark.parametrize("build", [
    lambda L: L.nn.Linear(4, 3), lambda L: L.nn.Linear(100, 37), lambda L: L.nn.Conv2d(3, 8, 3),
    lambda L: L.nn.Conv1d(4, 6, 5, bias=False), lambda L: L.nn.Embedding(50, 16), lambda L: L.nn.LSTM(10, 20, 2),
    lambda L: L.nn.GRU(6, 9, bidirectional=True), lambda L: L.nn.LayerNorm(8), lambda L: L.nn.BatchNorm2d(5),
    lambda L: L.nn.Sequential(L.nn.Linear(8, 16), L.nn.ReLU(), L.nn.Linear(16, 2)),
    lambda L: L.nn.MultiheadAttention(16, 4), lambda L: L.nn.ConvTranspose2d(4, 2, 3)])
def test_module_initial_weights(build):
    for seed in (0, 1, 123):
        both(lambda L: _params(build(L)), seed)


@pytest.mark.parametrize("init", [
    lambda L, w: L.nn.init.uniform_(w, -0.3, 0.8), lambda L, w: L.nn.init.normal_(w, 0.1, 0.02),
    lambda L, w: L.nn.init.kaiming_uniform_(w, a=5 ** 0.5), lambda L, w: L.nn.init.kaiming_normal_(w),
    lambda L, w: L.nn.init.xavier_uniform_(w), lambda L, w: L.nn.init.xavier_normal_(w, gain=2.0),
    lambda L, w: L.nn.init.trunc_normal_(w, std=0.02), lambda L, w: L.nn.init.trunc_normal_(w, 0.0, 1.0, 1.5, 2.5)])
def test_init_functions(init):
    for shape in ((3, 4), (20, 30), (8, 3, 3, 3)):
        both(lambda L: init(L, L.empty(*shape)))


def test_init_sparse():
    for shape in ((3, 4), (20, 30)):
        both(lambda L: L.nn.init.sparse_(L.empty(*shape), 0.3))


def test_orthogonal_draws_then_close():
    fastgrad.manual_seed(0)
    a = fastgrad.nn.init.orthogonal_(fastgrad.empty(6, 10))
    torch.manual_seed(0)
    b = torch.nn.init.orthogonal_(torch.empty(6, 10))
    same_state()
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


# --------------------------------------------------------------------------- data
def test_samplers_split_and_loader_order():
    from fastgrad.utils import data as fd
    from torch.utils import data as td

    for seed in (0, 5):
        fastgrad.manual_seed(seed)
        torch.manual_seed(seed)
        assert list(fd.RandomSampler(range(37))) == list(td.RandomSampler(range(37)))
        assert list(fd.RandomSampler(range(37), replacement=True, num_samples=70)) == \
            list(td.RandomSampler(range(37), replacement=True, num_samples=70))
        a = [list(s) for s in fd.random_split(range(30), [10, 15, 5])]
        b = [list(s) for s in td.random_split(range(30), [10, 15, 5])]
        assert a == b
        g, tg = fastgrad.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
        assert list(fd.RandomSampler(range(20), generator=g)) == list(td.RandomSampler(range(20), generator=tg))
        same_state()
    x = np.arange(50, dtype=np.float32)
    for gen in (False, True):
        fastgrad.manual_seed(3)
        torch.manual_seed(3)
        kw = {"generator": fastgrad.Generator().manual_seed(9)} if gen else {}
        tkw = {"generator": torch.Generator().manual_seed(9)} if gen else {}
        la = fd.DataLoader(fd.TensorDataset(fastgrad.tensor(x)), batch_size=8, shuffle=True, **kw)
        lb = td.DataLoader(td.TensorDataset(torch.tensor(x)), batch_size=8, shuffle=True, **tkw)
        for _ in range(2):  # two epochs
            for (xa,), (xb,) in zip(la, lb):
                same(xa, xb)
        same(fastgrad.rand(5), torch.rand(5))
        same_state()


# --------------------------------------------------------------------------- backends agree
def _twin():
    path = pathlib.Path(fastgrad.__file__).parent / "_np" / "random.py"
    spec = importlib.util.spec_from_file_location("fastgrad._np_random_check", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_compiled_and_numpy_kernels_agree():
    if fastgrad.get_backend() != "cython":
        pytest.skip("the compiled backend is not in use")
    from fastgrad import _C

    tw = _twin()
    for seed in SEEDS:
        s1, s2 = np.zeros(626, np.uint32), np.zeros(626, np.uint32)
        _C.rng_seed(s1, seed)
        tw.rng_seed(s2, seed)
        assert np.array_equal(s1, s2)
        for n in (1, 623, 624, 625, 2000):
            assert np.array_equal(_C.rng_raw32(s1, np.empty(n, np.uint32)), tw.rng_raw32(s2, np.empty(n, np.uint32)))
            assert np.array_equal(_C.rng_raw64(s1, np.empty(n, np.uint64)), tw.rng_raw64(s2, np.empty(n, np.uint64)))
            for dt in (np.float32, np.float64):
                a = _C.rng_uniform(s1, np.empty(n, dt), -1.5, 2.25)
                assert np.array_equal(a, tw.rng_uniform(s2, np.empty(n, dt), -1.5, 2.25))
                if n >= 16:
                    a = _C.rng_normal(s1, np.empty(n, dt), 0.25, 3.0)
                    assert np.array_equal(a, tw.rng_normal(s2, np.empty(n, dt), 0.25, 3.0))
            assert np.array_equal(s1, s2)


def test_kernel_argument_checks():
    from fastgrad._backend import K

    with pytest.raises(TypeError, match="state"):
        K.rng_raw32(np.zeros(10, np.uint32), np.empty(3, np.uint32))
    with pytest.raises(TypeError, match="out must be"):
        K.rng_uniform(np.zeros(626, np.uint32), np.empty(3, np.int32), 0, 1)
    with pytest.raises(ValueError, match="at least 16"):
        K.rng_normal(np.zeros(626, np.uint32), np.empty(3, np.float32), 0, 1)


def test_poisson():
    r = np.array([0.5, 3.0, 0.0, 9.9, 10.0, 25.0, 300.0, 1e4] * 5, np.float32)
    for seed in SEEDS[:3]:
        both(lambda L: L.poisson(L.tensor(r)), seed)
        both(lambda L: L.poisson(L.tensor(r[:7].astype(np.float64))), seed)


def test_bernoulli_float_p_mkl_path(monkeypatch):
    """torch's Intel path for bernoulli_(float p) (and so dropout): one random() draw seeds MKL's
    MCG31 stream. Checked against MKL's own viRngBernoulli where libmkl_rt is installed."""
    import ctypes
    import ctypes.util
    import sys

    from fastgrad import _random_ops

    lib = ctypes.util.find_library("mkl_rt") or next(
        (str(p) for p in pathlib.Path(sys.prefix, "lib").glob("libmkl_rt.so*")), None)
    if lib is None:
        pytest.skip("libmkl_rt is not installed")
    mkl = ctypes.CDLL(lib)

    def mkl_bernoulli(seed, n, p):
        stream = ctypes.c_void_p()
        assert mkl.vslNewStream(ctypes.byref(stream), ctypes.c_int(0x100000), ctypes.c_uint(seed)) == 0  # MCG31
        out = np.zeros(n, np.int32)
        mkl.viRngBernoulli(ctypes.c_int(0), stream, ctypes.c_int(n), out.ctypes.data_as(ctypes.c_void_p),
                           ctypes.c_double(p))
        mkl.vslDeleteStream(ctypes.byref(stream))
        return out

    monkeypatch.setattr(_random_ops, "MKL_BERNOULLI", True)
    for seed in (0, 3, 2**32 - 1):
        g = fastgrad.Generator().manual_seed(seed)
        first = int(fastgrad.Generator().manual_seed(seed)._raw32(1)[0])
        for n, p in ((1, 0.5), (37, 0.3), (5000, 0.9)):
            got = fastgrad.empty(n).bernoulli_(p, generator=g)
            assert np.array_equal(got.numpy(), mkl_bernoulli(first, n, p).astype(np.float32))
            first = int(g.clone_state()._raw32(1)[0])  # each call consumed exactly one random() draw


def test_distribution_samples():
    cases = [lambda L: L.distributions.Normal(L.tensor([0.5, 1.0]), L.tensor([1.0, 2.0])).sample((40,)),
             lambda L: L.distributions.Uniform(L.tensor([0.0]), L.tensor([2.0])).sample((30,)),
             lambda L: L.distributions.Bernoulli(L.tensor([0.3, 0.6])).sample((20,)),
             lambda L: L.distributions.Categorical(L.tensor([0.2, 0.3, 0.5])).sample((25,)),
             lambda L: L.distributions.Exponential(L.tensor([2.0])).sample((20,)),
             lambda L: L.distributions.Gamma(L.tensor([2.0, 0.5, 7.0]), L.tensor([1.0, 2.0, 3.0])).sample((5,)),
             lambda L: L.distributions.Gamma(L.tensor([0.2, 30.0], dtype=L.float64),
                                             L.tensor([1.0, 3.0], dtype=L.float64)).sample((5,))]
    for case in cases:
        for seed in (0, 1):
            both(case, seed)
    fastgrad.manual_seed(0)
    torch.manual_seed(0)  # Dirichlet: torch's gamma draws (same state), normalised to within an ulp
    a = fastgrad.distributions.Dirichlet(fastgrad.tensor([0.3, 1.0, 4.0])).sample((4,))
    b = torch.distributions.Dirichlet(torch.tensor([0.3, 1.0, 4.0])).sample((4,))
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    same_state()
