"""fastgrad.finfo and fastgrad.iinfo: the numerical limits of a dtype (torch.finfo, torch.iinfo)."""
import ml_dtypes
import numpy as np

from fastgrad import _dtype


def _fmt(v):
    return "%g" % v


class finfo:  # noqa: N801  (PyTorch's name)
    """bits, eps, max, min, tiny (= smallest_normal), resolution and dtype of a floating dtype
    (a complex dtype gives its real part's); finfo() is the default dtype's."""

    def __init__(self, type=None):  # noqa: A002  (PyTorch's parameter name)
        d = _dtype.get_default_dtype() if type is None else _dtype.to_dtype(type)
        if not (d.is_floating_point or d.is_complex):
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo to handle "
                            "'torch.finfo'")
        if d.is_complex:
            d = _dtype.float32 if d is _dtype.complex64 else _dtype.float64
        info = ml_dtypes.finfo(d.np)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = float(info.tiny)
        self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)  # 10**-digits10, as PyTorch's
        self.dtype = d.name

    def __eq__(self, other):
        return isinstance(other, finfo) and self.dtype == other.dtype

    def __hash__(self):
        return hash(("finfo", self.dtype))

    def __repr__(self):
        return ("finfo(resolution=%s, min=%s, max=%s, eps=%s, smallest_normal=%s, tiny=%s, dtype=%s)"
                % (_fmt(self.resolution), _fmt(self.min), _fmt(self.max), _fmt(self.eps),
                   _fmt(self.smallest_normal), _fmt(self.tiny), self.dtype))


class iinfo:  # noqa: N801
    """bits, max, min and dtype of an integer dtype."""

    def __init__(self, type):  # noqa: A002
        d = _dtype.to_dtype(type)
        if d is _dtype.bool_:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if d.is_floating_point or d.is_complex:
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to handle "
                            "'torch.iinfo'")
        info = np.iinfo(d.np)
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = d.name

    def __eq__(self, other):
        return isinstance(other, iinfo) and self.dtype == other.dtype

    def __hash__(self):
        return hash(("iinfo", self.dtype))

    def __repr__(self):
        return "iinfo(min=%s, max=%s, dtype=%s)" % (_fmt(self.min), _fmt(self.max), self.dtype)
