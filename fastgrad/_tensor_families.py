"""Tensor methods of the op families added after the core ones (complex numbers, special functions,
more linear algebra, copies/shape/index ops, bitwise and math ops, stft, statistics): bound onto
Tensor once, when fastgrad is imported (fastgrad/__init__.py), as fastgrad/_tensor.py binds the
core ops' methods."""
from fastgrad import _dtype  # noqa: F401
from fastgrad._backend import engine  # noqa: F401
from fastgrad._ops import math as M  # noqa: F401
from fastgrad._tensor import Tensor, _inplace_method  # noqa: F401

# complex numbers (fastgrad/_ops/complex.py) and the Fourier transforms' methods
from fastgrad._ops import complex as _CX  # noqa: E402

for _name, _fn in (("conj", _CX.conj), ("conj_physical", _CX.conj_physical), ("resolve_conj", _CX.resolve_conj),
                   ("resolve_neg", _CX.resolve_neg), ("is_conj", _CX.is_conj), ("is_neg", _CX.is_neg),
                   ("angle", _CX.angle), ("sgn", _CX.sgn), ("isreal", _CX.isreal), ("chalf", _CX.chalf)):
    setattr(Tensor, _name, _fn)
Tensor.conj_physical_ = _inplace_method(_CX.conj_physical, "conj_physical_")
Tensor.sgn_ = _inplace_method(_CX.sgn, "sgn_")


def _set_part(self, value, part):
    if self._data.dtype.kind != "c":
        raise RuntimeError("%s is not implemented for tensors with non-complex dtypes." % part)
    getattr(self._data, part)[...] = value._data if isinstance(value, engine.TensorBase) else value
    self._vc.value += 1


Tensor.real = property(_CX.real, lambda self, v: _set_part(self, v, "real") if self._data.dtype.kind == "c"
                       else self.copy_(v))
Tensor.imag = property(_CX.imag, lambda self, v: _set_part(self, v, "imag"))

from fastgrad._ops import special as SPC  # noqa: E402
for _name, _fn in (("lgamma", SPC.lgamma), ("digamma", SPC.digamma), ("polygamma", SPC.polygamma_method),
                   ("mvlgamma", SPC.mvlgamma), ("erfinv", SPC.erfinv), ("i0", SPC.i0), ("logit", SPC.logit),
                   ("igamma", SPC.igamma_method), ("igammac", SPC.igammac_method), ("exp2", SPC.exp2),
                   ("xlogy", SPC.xlogy)):
    setattr(Tensor, _name, _fn)
    setattr(Tensor, _name + "_", SPC.inplace_guard(_inplace_method(_fn, _name + "_")))
for _name, _fn in (("erfc_", M.erfc), ("sinc_", M.sinc), ("xlogy_", SPC.xlogy)):
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, _inplace_method(_fn, _name))


def _linalg_more_methods():
    from fastgrad._ops import linalg_lu as LU, linalg_more as LM

    for name, fn in (("lu", LU.lu_legacy), ("lu_solve", LU.lu_solve_legacy), ("triangular_solve", LU.triangular_solve),
                     ("matrix_exp", LM.matrix_exp), ("cholesky_solve", LM.cholesky_solve),
                     ("cholesky_inverse", LM.cholesky_inverse), ("qr", LM.qr_legacy), ("geqrf", LM.geqrf),
                     ("orgqr", LM.orgqr), ("ormqr", LM.ormqr), ("pinverse", LM.pinverse)):
        setattr(Tensor, name, fn)


_linalg_more_methods()


def _bind_more():
    """Methods of the ops in copies.py, shape_more.py, index_more.py (their TENSOR_METHODS tables)."""
    from fastgrad._ops import copies, index_more, shape_more

    for table in (copies.TENSOR_METHODS, shape_more.TENSOR_METHODS, index_more.TENSOR_METHODS):
        for name, fn in table.items():
            setattr(Tensor, name, fn)


_bind_more()
from fastgrad._ops import math_more as _MO  # noqa: E402  (bitwise ops and operators, exp2, diff, random fills, ...)

for _name, _fn in _MO.TENSOR_METHODS.items():
    if not hasattr(Tensor, _name) or _name in ("__and__", "__or__", "__xor__"):
        setattr(Tensor, _name, _fn)
Tensor.__rand__, Tensor.__ror__, Tensor.__rxor__ = Tensor.__and__, Tensor.__or__, Tensor.__xor__
from fastgrad._ops import stft as _STFT  # noqa: E402

Tensor.stft, Tensor.istft = _STFT.stft, _STFT.istft
Tensor.cfloat = lambda self, memory_format=None: self.to(_dtype.complex64)
Tensor.cdouble = lambda self, memory_format=None: self.to(_dtype.complex128)
from fastgrad._ops import statistics as _ST  # noqa: E402  (quantile, nanmedian, mode, histc, cov, ...)

for _name, _fn in _ST.TENSOR_METHODS.items():
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, _fn)

# bitwise_not as a method; is_distributed; the deprecated out-of-place resize / resize_as (torch's
# autograd Resize: a reshaped copy of the same number of elements, its gradient reshaped back)
from fastgrad._ops import elementwise as _E  # noqa: E402

Tensor.bitwise_not = _E.bitwise_not
Tensor.is_distributed = lambda self: False


def _resize(self, *sizes):
    import warnings

    warnings.warn("non-inplace resize is deprecated", stacklevel=2)
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) or sizes and hasattr(sizes[0], "__len__"):
        sizes = tuple(sizes[0])
    numel = 1
    for s in sizes:
        numel *= int(s)
    if self.numel() != numel:
        raise RuntimeError("requested resize to %s (%d elements in total), but the given tensor has a size of %s "
                           "(%d elements). autograd's resize can only change the shape of a given tensor, while "
                           "preserving the number of elements. " % ("x".join(map(str, sizes)), numel,
                                                                    "x".join(map(str, self.size())), self.numel()))
    return self.contiguous().clone().view(*sizes)


def _resize_as(self, tensor):
    import warnings

    warnings.warn("non-inplace resize_as is deprecated", stacklevel=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _resize(self, tuple(tensor.size()))


Tensor.resize = _resize
Tensor.resize_as = _resize_as
