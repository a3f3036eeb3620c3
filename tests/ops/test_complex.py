"""Complex numbers against torch: real/imag/conj/view_as_real/complex/polar/angle/sgn/isreal and
the elementwise ops on complex tensors; gradients in torch's convention (dL/dRe + i dL/dIm),
forward-mode tangents and double backward."""
import numpy as np
import pytest

import fastgrad

torch = pytest.importorskip("torch")

TOL = {"float32": 1e-4, "complex64": 1e-4, "float64": 1e-10, "complex128": 1e-10}


def _np(t):
    if isinstance(t, fastgrad.Tensor):
        return t.detach().numpy()
    if t._is_zerotensor():  # torch's gradient of a piecewise-constant op
        return np.zeros(t.shape, str(t.dtype).split(".")[-1])
    return t.detach().resolve_conj().resolve_neg().numpy()


def _close(a, b, tol):
    a, b = _np(a), _np(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, equal_nan=True)


def _arr(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) + 0.1
    if dtype.startswith("complex"):
        a = a + 1j * rng.standard_normal(shape)
    return a.astype(dtype)


def _pairs(specs, seed=0):
    f, t = [], []
    for i, (shape, dtype) in enumerate(specs):
        a = _arr(shape, dtype, seed + i)
        f.append(fastgrad.tensor(a, requires_grad=True))
        t.append(torch.tensor(a, requires_grad=True))
    return f, t


def _loss(lib, out, w):
    if out.is_complex():
        out = lib.view_as_real(out.resolve_conj())
    return (out * lib.tensor(w)).sum()


def _w(out, seed=7):
    shape = tuple(out.shape) + ((2,) if out.is_complex() else ())
    dt = np.float32 if out.dtype in (torch.float32, torch.complex64) else np.float64
    return np.random.default_rng(seed).standard_normal(shape).astype(dt)


def check(fn, specs, tol=None, tangent=True, double=False):
    """fn(lib, *tensors) in fastgrad and torch: value, gradients, tangents (and double backward)."""
    tol = tol or TOL[specs[0][1]]
    xs, txs = _pairs(specs)
    out, tout = fn(fastgrad, *xs), fn(torch, *txs)
    _close(out, tout, tol)
    if not tout.requires_grad:
        return
    w = _w(tout)
    gs = fastgrad.autograd.grad(_loss(fastgrad, out, w), xs, create_graph=double)
    tgs = torch.autograd.grad(_loss(torch, tout, w), txs, create_graph=double)
    for g, tg in zip(gs, tgs):
        _close(g, tg, tol)
    if double:
        w2 = [_w(tg, 9 + i) for i, tg in enumerate(tgs)]
        total = sum(_loss(fastgrad, g, v) for g, v in zip(gs, w2))
        ttotal = sum(_loss(torch, tg, v) for tg, v in zip(tgs, w2))
        if not ttotal.requires_grad:  # a linear op: no second derivative (torch's grads are constants)
            assert not total.requires_grad or not any(
                np.any(_np(g)) for g in fastgrad.autograd.grad(total, xs, allow_unused=True) if g is not None)
        else:
            for a, b in zip(fastgrad.autograd.grad(total, xs, allow_unused=True),
                            torch.autograd.grad(ttotal, txs, allow_unused=True)):
                if b is None:
                    assert a is None or not np.any(_np(a))
                else:
                    _close(a, b, tol)
    if tangent:
        vs, tvs = _pairs(specs, seed=20)
        with fastgrad.autograd.forward_ad.dual_level():
            ds = [fastgrad.autograd.forward_ad.make_dual(x.detach(), v.detach()) for x, v in zip(xs, vs)]
            t = fastgrad.autograd.forward_ad.unpack_dual(fn(fastgrad, *ds)).tangent
        with torch.autograd.forward_ad.dual_level():
            tds = [torch.autograd.forward_ad.make_dual(x.detach(), v.detach()) for x, v in zip(txs, tvs)]
            tt = torch.autograd.forward_ad.unpack_dual(fn(torch, *tds)).tangent
        _close(t, tt, tol)


CPLX = ["complex64", "complex128"]
SHAPES = [(), (5,), (3, 4)]


@pytest.mark.parametrize("dtype", CPLX)
@pytest.mark.parametrize("name", ["real", "imag", "conj", "conj_physical", "view_as_real", "angle", "sgn", "abs",
                                  "resolve_conj", "resolve_neg"])
def test_unary_complex(dtype, name):
    for shape in SHAPES:
        check(lambda m, z: getattr(m, name)(z) * 1, [(shape, dtype)], double=True)


@pytest.mark.parametrize("dtype", CPLX)
@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "square", "neg"])
def test_holomorphic(dtype, name):
    for shape in SHAPES:
        check(lambda m, z: getattr(m, name)(z), [(shape, dtype)], double=True)


@pytest.mark.parametrize("dtype", CPLX)
@pytest.mark.parametrize("p", [2, 3, -1, 0.5, -2.5, 0, 1])
def test_pow_scalar(dtype, p):
    check(lambda m, z: z ** p, [((3, 4), dtype)], double=True)


@pytest.mark.parametrize("dtype", CPLX)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow"])
def test_binary_complex(dtype, op):
    check(lambda m, a, b: getattr(m, op)(a, b), [((3, 4), dtype), ((3, 4), dtype)], double=op != "pow")
    check(lambda m, a, b: getattr(m, op)(a, b), [((3, 1), dtype), ((4,), dtype)])  # broadcast


@pytest.mark.parametrize("op", ["add", "mul", "div"])
def test_real_with_complex(op):
    """A real tensor in a complex op: its gradient is the real part of the complex one."""
    check(lambda m, a, b: getattr(m, op)(a, b), [((3, 4), "float32"), ((3, 4), "complex64")])
    check(lambda m, a, b: getattr(m, op)(b, a), [((3, 4), "float64"), ((4,), "complex128")])
    check(lambda m, a, b: getattr(m, op)(b, 2.5) * a, [((3, 4), "float64"), ((3, 4), "complex128")])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_complex_polar_view_as_complex(dtype):
    check(lambda m, a, b: m.complex(a, b), [((3, 4), dtype), ((3, 4), dtype)], double=True)
    check(lambda m, a, b: m.complex(a, b), [((3, 1), dtype), ((4,), dtype)])
    check(lambda m, a, b: m.polar(a, b), [((3, 4), dtype), ((3, 4), dtype)], double=True)
    check(lambda m, a: m.view_as_complex(a), [((3, 2), dtype)], double=True)
    check(lambda m, a: m.view_as_complex(a), [((2,), dtype)])
    check(lambda m, a: m.angle(a), [((3, 4), dtype)])
    check(lambda m, a: m.sgn(a), [((3, 4), dtype)], tangent=False)  # (torch's tangent is a ZeroTensor)


def test_zeros_and_int_inputs():
    z = np.array([0j, 1 + 1j, -2 + 0j, 0.5j], dtype=np.complex64)
    for name in ["angle", "sgn", "abs"]:
        a = fastgrad.tensor(z, requires_grad=True)
        b = torch.tensor(z, requires_grad=True)
        fa, fb = getattr(fastgrad, name)(a), getattr(torch, name)(b)
        _close(fa, fb, 1e-6)
        _loss(fastgrad, fa, _w(fb)).backward()
        _loss(torch, fb, _w(fb)).backward()
        _close(a.grad, b.grad, 1e-6)
    i = np.array([-2, 0, 3])
    _close(fastgrad.angle(fastgrad.tensor(i)), torch.angle(torch.tensor(i)), 1e-6)
    _close(fastgrad.sgn(fastgrad.tensor(i)), torch.sgn(torch.tensor(i)), 0)
    x = np.array([-1.0, 0.0, np.nan, 2.0], dtype=np.float32)
    _close(fastgrad.angle(fastgrad.tensor(x)), torch.angle(torch.tensor(x)), 1e-6)


def test_predicates_and_properties():
    z = np.array([1 + 0j, 1 + 1j, -0.0j], dtype=np.complex128)
    a, b = fastgrad.tensor(z), torch.tensor(z)
    _close(fastgrad.isreal(a), torch.isreal(b), 0)
    _close(fastgrad.isreal(fastgrad.ones(3)), torch.isreal(torch.ones(3)), 0)
    assert not a.is_conj() and not a.conj().is_conj() and not a.is_neg()
    assert fastgrad.is_conj(a) is False and fastgrad.is_neg(a) is False
    _close(a.real, b.real, 0)
    _close(a.imag, b.imag, 0)
    x = fastgrad.ones(3)
    assert fastgrad.real(x) is x and fastgrad.conj(x) is x and x.resolve_conj() is x
    a.real = fastgrad.tensor([5.0, 6.0, 7.0], dtype=fastgrad.float64)
    b.real = torch.tensor([5.0, 6.0, 7.0], dtype=torch.float64)
    a.imag = fastgrad.tensor([1.0, 2.0, 3.0], dtype=fastgrad.float64)
    b.imag = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    _close(a, b, 0)
    _close(fastgrad.conj_physical(a), torch.conj_physical(b), 0)
    with pytest.raises(TypeError):
        fastgrad.ones(2).chalf()  # out of scope: NumPy has no complex32


@pytest.mark.parametrize("call", [
    lambda m: m.view_as_real(m.ones(2)), lambda m: m.view_as_complex(m.ones(2, 3)),
    lambda m: m.view_as_complex(m.ones(2, 2, dtype=m.int64)), lambda m: m.ones(2).imag,
    lambda m: m.complex(m.ones(2), m.ones(2, dtype=m.float64)), lambda m: m.complex(m.ones(2, dtype=m.int64),
                                                                                    m.ones(2, dtype=m.int64)),
    lambda m: m.polar(m.ones(2), m.ones(2, dtype=m.float64)),
])
def test_errors(call):
    with pytest.raises(Exception) as want:
        call(torch)
    with pytest.raises(want.type) as got:
        call(fastgrad)
    assert str(got.value) == str(want.value)


def test_sum_mean_of_complex():
    check(lambda m, z: z.sum(0) * z.mean(), [((3, 4), "complex128")], double=True)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
def test_cfloat_cdouble(dtype):
    for name in ["cfloat", "cdouble"]:
        check(lambda m, x: getattr(x, name)() * (1 + 2j), [((3, 4), dtype)])
