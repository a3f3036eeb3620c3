"""fastgrad.special: torch.special's namespace.

The functions of their own live in fastgrad/_ops/special.py (differentiable ones) and
fastgrad/_ops/special_bessel.py (Bessel functions and orthogonal polynomials, which PyTorch does
not differentiate); the rest are torch.special's aliases of fastgrad's top-level ops (expit is
sigmoid, gammaln is lgamma, psi is digamma, ...). Every function takes PyTorch's ``out=``.
scipy.special supplies the kernels that have no short NumPy formula; it is optional (the
``special`` extra installs it): without it, those functions raise an ImportError saying so."""
import functools
import warnings

import numpy as np

from fastgrad import _dtype
from fastgrad._backend import engine
from fastgrad._ops import special as _S
from fastgrad._ops.base import scalar_type_name, shape_str


def _with_out(fn, name, aten=None):
    """fn with PyTorch's keyword-only out=: the result written into out (resized, with PyTorch's
    warning, when out has other elements; cast to out's dtype where PyTorch's rule allows)."""
    check = not (name == "ndtr" or "bessel" in name or "polynomial" in name or name == "airy_ai")  # (torch:
    # no derivative, or a composite op: out= takes inputs that require grad)

    @functools.wraps(fn)
    def wrapper(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        if check and engine.is_grad_enabled() and (out._requires_grad or any(
                getattr(a, "_requires_grad", False) for a in list(args) + list(kwargs.values()))):
            raise RuntimeError("%s(): functions with out=... arguments don't support automatic differentiation, "
                               "but one of the arguments requires grad." % (aten or name))
        res = fn(*args, **kwargs)
        return _write_out(res, out)
    wrapper.__name__ = name
    return wrapper


def _write_out(res, out):
    rd, od = res._data.dtype, out._data.dtype
    if _dtype.kind(od) not in "fc" or (_dtype.kind(od) == "f" and _dtype.kind(rd) == "c"):
        if not (_dtype.kind(rd) in "biu" and _dtype.kind(od) in "iu"):
            raise RuntimeError("result type %s can't be cast to the desired output type %s"
                               % (scalar_type_name(rd), scalar_type_name(od)))
    # twin of _ops/math_more.py _write_out: the casting and resize rules differ
    if out._data.shape != res._data.shape:
        if out._data.size:
            warnings.warn("An output with one or more elements was resized since it had shape %s, which does not "
                          "match the required output shape %s. This behavior is deprecated, and in a future "
                          "PyTorch release outputs will not be resized unless they have zero elements. You can "
                          "explicitly reuse an out tensor t by resizing it, inplace, to zero elements with "
                          "t.resize_(0)." % (shape_str(out._data.shape), shape_str(res._data.shape)), UserWarning)
        if out._base is not None:
            raise RuntimeError("Trying to resize storage that is not resizable")
        out._data = np.empty(res._data.shape, od)
    np.copyto(out._data, res._data.astype(od, copy=False), casting="unsafe")
    out._vc.value += 1
    return out


def _export(names, module, aten=None):
    for n in names:
        src = module
        attr = n
        if isinstance(n, tuple):
            n, attr = n
        globals()[n] = _with_out(getattr(src, attr), n, (aten or {}).get(n, n if n in _TOP else "special_" + n))


_TOP = {"erf", "erfc", "erfinv", "exp2", "expm1", "log1p", "digamma", "i0", "logit", "polygamma", "lgamma",
        "mvlgamma", "igamma", "igammac", "logsumexp", "round", "sinc", "xlogy", "sigmoid"}

_export(["exp2", "digamma", "polygamma", "erfinv", "i0", "i0e", "i1", "i1e", "ndtr", "ndtri", "log_ndtr",
         "erfcx", "entr", "logit", "xlog1py", "xlogy", "zeta", ("gammaln", "lgamma"), ("psi", "digamma"),
         ("multigammaln", "mvlgamma"), ("gammainc", "igamma"), ("gammaincc", "igammac")], _S,
        {"gammaln": "lgamma", "psi": "digamma", "multigammaln": "mvlgamma", "gammainc": "igamma",
         "gammaincc": "igammac"})


def _bessel():
    from fastgrad._ops import special_bessel as B

    _export(B.__all__, B)


_bessel()


def _aliases():
    from fastgrad._ops import elementwise as E, math as M, nn as N, reduction_ext as RX

    _export([("expit", "sigmoid")], E, {"expit": "sigmoid"})
    _export(["erf", "erfc", "expm1", "log1p", "round", "sinc"], M)
    _export(["logsumexp"], RX)
    return N


_N = _aliases()


def softmax(input, dim, *, dtype=None):
    """torch.special.softmax: softmax along dim (dim is required)."""
    return _N.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """torch.special.log_softmax: log_softmax along dim (dim is required)."""
    return _N.log_softmax(input, dim, dtype=dtype)


_NAMES = ["airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "chebyshev_polynomial_t",
           "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w", "digamma", "entr", "erf",
           "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc", "gammaln",
           "hermite_polynomial_h", "hermite_polynomial_he", "i0", "i0e", "i1", "i1e", "laguerre_polynomial_l",
           "legendre_polynomial_p", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp",
           "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
           "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round", "scaled_modified_bessel_k0",
           "scaled_modified_bessel_k1", "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
           "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "sinc", "softmax",
           "spherical_bessel_j0", "xlog1py", "xlogy", "zeta"]
__all__ = [n for n in _NAMES if n in globals()]
