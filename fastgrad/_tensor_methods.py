"""Every Tensor method that is an op's function, or a form of one, in one table: bound onto Tensor in
one pass by bind(), which fastgrad/__init__.py calls last, once every op module has loaded (PyTorch's
torch/_tensor.py pattern: methods defined once, bound after the ops). The class body (fastgrad/_tensor.py)
keeps the tensor's own methods (attributes, conversions, hooks; + - * / ** are TensorBase's, C slots
when compiled); fastgrad/_tensor_more.py the methods that are no op's function (x.new, x.apply_, ...).

Adding an op's method is one line: METHODS (name -> the function, which takes the tensor first, with
torch's method parameters), INPLACE (x.name_(...) writes name's result into x), ALIASES (another
spelling of a method). bind() refuses a name given twice -- in two tables, or in a table and the
class body -- so no name depends on the order of anything."""
from fastgrad import _tensor_more as X
from fastgrad import sparse as SPARSE
from fastgrad._ops import activations as A
from fastgrad._ops import complex as CX
from fastgrad._ops import copies as CP
from fastgrad._ops import elementwise as E
from fastgrad._ops import index_more as IM
from fastgrad._ops import index_put as IP
from fastgrad._ops import indexing as I
from fastgrad._ops import linalg as L
from fastgrad._ops import linalg_ext as LX
from fastgrad._ops import linalg_lu as LU
from fastgrad._ops import linalg_more as LM
from fastgrad._ops import math as M
from fastgrad._ops import math_more as MO
from fastgrad._ops import minmax as MM
from fastgrad._ops import pointwise as PW
from fastgrad._ops import reduction as R
from fastgrad._ops import reduction_ext as RX
from fastgrad._ops import shape as S
from fastgrad._ops import shape_more as SM
from fastgrad._ops import sorting as SO
from fastgrad._ops import spatial as SP
from fastgrad._ops import special as SPC
from fastgrad._ops import statistics as ST
from fastgrad._ops import stft as STFT
from fastgrad._tensor import Tensor

# ------------------------------------------------------------------ name -> the op's function
# exp, log, sqrt, sin, cos, sigmoid, tanh are engine.UnaryFunction objects: they bind as methods,
# and a call runs no Python frame.
METHODS = {
    # elementwise
    "__floordiv__": E.floor_divide, "__neg__": E.neg, "__abs__": E.abs, "__invert__": E.bitwise_not,
    "__eq__": E.eq, "__ne__": E.ne, "__lt__": E.lt, "__le__": E.le, "__gt__": E.gt, "__ge__": E.ge,
    "mul": E.mul, "pow": E.pow, "neg": E.neg, "exp": E.exp, "log": E.log, "sqrt": E.sqrt, "abs": E.abs,
    "sin": E.sin, "cos": E.cos, "sigmoid": E.sigmoid, "tanh": E.tanh, "relu": E.relu, "sign": E.sign,
    "square": E.square, "clamp": E.clamp, "maximum": E.maximum, "minimum": E.minimum, "eq": E.eq, "ne": E.ne,
    "lt": E.lt, "le": E.le, "gt": E.gt, "ge": E.ge, "logical_not": E.logical_not, "logical_and": E.logical_and,
    "logical_or": E.logical_or, "logical_xor": E.logical_xor, "isnan": E.isnan, "isinf": E.isinf,
    "isfinite": E.isfinite, "equal": E.equal, "allclose": E.allclose, "isclose": E.isclose,
    "floor_divide": E.floor_divide, "bitwise_not": E.bitwise_not,
    # math
    "__mod__": M.remainder, "expm1": M.expm1, "log1p": M.log1p, "log2": M.log2, "log10": M.log10,
    "rsqrt": M.rsqrt, "reciprocal": M.reciprocal, "tan": M.tan, "asin": M.asin, "acos": M.acos,
    "atan": M.atan, "sinh": M.sinh, "cosh": M.cosh, "asinh": M.asinh, "acosh": M.acosh, "atanh": M.atanh,
    "erf": M.erf, "erfc": M.erfc, "atan2": M.atan2, "lerp": M.lerp, "hypot": M.hypot, "logaddexp": M.logaddexp,
    "floor": M.floor, "ceil": M.ceil, "trunc": M.trunc, "round": M.round, "frac": M.frac,
    "nan_to_num": M.nan_to_num, "deg2rad": M.deg2rad, "rad2deg": M.rad2deg, "sinc": M.sinc,
    "signbit": M.signbit, "copysign": M.copysign, "remainder": M.remainder, "fmod": M.fmod,
    # math_more: bitwise ops and operators, exp2, diff, random fills, ...
    "bitwise_and": MO.bitwise_and, "bitwise_or": MO.bitwise_or, "bitwise_xor": MO.bitwise_xor,
    "bitwise_left_shift": MO.bitwise_left_shift, "bitwise_right_shift": MO.bitwise_right_shift,
    "__and__": MO.bitwise_and, "__or__": MO.bitwise_or, "__xor__": MO.bitwise_xor,
    "__rand__": MO.bitwise_and, "__ror__": MO.bitwise_or, "__rxor__": MO.bitwise_xor,
    "__lshift__": MO.bitwise_left_shift, "__rshift__": MO.bitwise_right_shift,
    "__rlshift__": MO.reflected(MO.bitwise_left_shift), "__rrshift__": MO.reflected(MO.bitwise_right_shift),
    "gcd": MO.gcd, "lcm": MO.lcm, "clamp_min": MO.clamp_min, "clamp_max": MO.clamp_max,
    "float_power": MO.float_power, "float_power_": MO.float_power_, "frexp": MO.frexp, "ldexp": MO.ldexp,
    "logaddexp2": MO.logaddexp2, "heaviside": MO.heaviside, "nextafter": MO.nextafter, "diff": MO.diff,
    "dist": MO.dist, "renorm": MO.renorm, "char": MO.char, "cauchy_": MO.cauchy_,
    "exponential_": MO.exponential_, "geometric_": MO.geometric_, "log_normal_": MO.log_normal_,
    # special functions
    "lgamma": SPC.lgamma, "digamma": SPC.digamma, "polygamma": SPC.polygamma_method, "mvlgamma": SPC.mvlgamma,
    "erfinv": SPC.erfinv, "i0": SPC.i0, "logit": SPC.logit, "igamma": SPC.igamma_method,
    "igammac": SPC.igammac_method, "exp2": SPC.exp2, "xlogy": SPC.xlogy,
    # complex numbers
    "conj": CX.conj, "conj_physical": CX.conj_physical, "resolve_conj": CX.resolve_conj,
    "resolve_neg": CX.resolve_neg, "is_conj": CX.is_conj, "is_neg": CX.is_neg, "angle": CX.angle, "sgn": CX.sgn,
    "isreal": CX.isreal, "chalf": CX.chalf,
    # activations
    "softplus": A.softplus, "hardshrink": A.hardshrink, "prelu": A.prelu,
    # reductions
    "sum": R.sum, "mean": R.mean, "amax": RX.amax, "amin": RX.amin, "aminmax": RX.aminmax, "prod": RX.prod,
    "cumsum": RX.cumsum, "cumprod": RX.cumprod, "cummax": RX.cummax, "cummin": RX.cummin,
    "logsumexp": RX.logsumexp, "logcumsumexp": RX.logcumsumexp, "var": RX.var, "std": RX.std, "all": RX.all,
    "any": RX.any, "nansum": RX.nansum, "nanmean": RX.nanmean, "hash_tensor": RX.hash_tensor,
    # statistics
    "nanmedian": ST.nanmedian, "mode": ST.mode, "quantile": ST.quantile, "nanquantile": ST.nanquantile,
    "histc": ST.histc, "histogram": ST.histogram, "cov": ST.cov, "corrcoef": ST.corrcoef,
    # linear algebra
    "__matmul__": L.matmul, "matmul": L.matmul, "mm": L.mm, "mv": L.mv, "dot": L.dot, "outer": L.outer,
    "bmm": L.bmm, "inverse": L.inv, "inner": L.inner, "vdot": L.vdot,
    "norm": LX.norm, "det": LX.det, "slogdet": LX.slogdet, "logdet": LX.logdet, "kron": LX.kron,
    "cross": LX.cross, "matrix_power": LX.matrix_power, "addmm": LX.addmm, "addmv": LX.addmv,
    "baddbmm": LX.baddbmm, "addbmm": LX.addbmm, "addr": LX.addr, "cholesky": LX.cholesky_legacy,
    "svd": LX.svd_legacy, "lu": LU.lu_legacy, "lu_solve": LU.lu_solve_legacy, "triangular_solve": LU.triangular_solve,
    "matrix_exp": LM.matrix_exp, "cholesky_solve": LM.cholesky_solve, "cholesky_inverse": LM.cholesky_inverse,
    "qr": LM.qr_legacy, "geqrf": LM.geqrf, "orgqr": LM.orgqr, "ormqr": LM.ormqr, "pinverse": LM.pinverse,
    # shape
    "detach": S.detach, "__getitem__": S.getitem, "flatten": S.flatten, "squeeze": S.squeeze,
    "unsqueeze": S.unsqueeze, "transpose": S.transpose, "swapaxes": S.swapaxes, "t": S.t,
    "as_strided": SM.as_strided, "as_strided_": SM.as_strided_, "storage_offset": SM.storage_offset,
    "new_empty_strided": SM.new_empty_strided, "resize_": SM.resize_, "resize_as_": SM.resize_as_,
    "ravel": SM.ravel, "rot90": SM.rot90, "sum_to_size": SM.sum_to_size, "diagflat": SM.diagflat,
    "narrow_copy": CP.narrow_copy, "split_with_sizes": CP.split_with_sizes, "unsafe_split": CP.unsafe_split,
    "unsafe_chunk": CP.unsafe_chunk, "unsafe_split_with_sizes": CP.unsafe_split_with_sizes, "hsplit": CP.hsplit,
    "vsplit": CP.vsplit, "dsplit": CP.dsplit, "select_scatter": CP.select_scatter,
    "slice_scatter": CP.slice_scatter, "diagonal_scatter": CP.diagonal_scatter,
    "as_strided_scatter": CP.as_strided_scatter,
    # indexing
    "masked_fill": I.masked_fill, "gather": I.gather, "movedim": I.movedim, "narrow": I.narrow,
    "select": I.select, "split": I.split, "chunk": I.chunk, "tensor_split": I.tensor_split, "unbind": I.unbind,
    "flip": I.flip, "fliplr": I.fliplr, "flipud": I.flipud, "roll": I.roll, "unflatten": I.unflatten,
    "repeat": I.repeat, "repeat_interleave": I.repeat_interleave, "index_select": I.index_select,
    "take": I.take, "take_along_dim": I.take_along_dim, "scatter": I.scatter, "scatter_add": I.scatter_add,
    "index_add": I.index_add, "index_fill": I.index_fill, "index_copy": I.index_copy,
    "scatter_reduce": I.scatter_reduce, "masked_select": I.masked_select, "masked_scatter": I.masked_scatter,
    "nonzero": I.nonzero, "argwhere": I.argwhere, "count_nonzero": I.count_nonzero, "tril": I.tril,
    "triu": I.triu, "diagonal": I.diagonal, "diag": I.diag, "diag_embed": I.diag_embed, "trace": I.trace,
    "put": IM.put, "put_": IM.put_, "index_reduce": IM.index_reduce, "index_reduce_": IM.index_reduce_,
    "nonzero_static": IM.nonzero_static, "isneginf": IM.isneginf, "isposinf": IM.isposinf,
    "index_put": IP.index_put, "index_put_": IP.index_put_,
    # sorting
    "sort": SO.sort, "argsort": SO.argsort, "msort": SO.msort, "topk": SO.topk, "kthvalue": SO.kthvalue,
    "median": SO.median, "unique": SO.unique, "unique_consecutive": SO.unique_consecutive,
    "bincount": SO.bincount,
    # the rest
    "unfold": SP.tensor_unfold, "fmax": MM.fmax, "fmin": MM.fmin, "addcmul": PW.addcmul_method,
    "addcdiv": PW.addcdiv_method, "stft": STFT.stft, "istft": STFT.istft, "to_sparse": SPARSE.tensor_to_sparse,
}
METHODS.update(X.METHODS)  # (x.new, x.apply_, x.is_signed, ...: fastgrad/_tensor_more.py)

# ------------------------------------------------------------------ in-place forms: name_ writes name into x
INPLACE = ("abs neg exp log sqrt sin cos tan sigmoid tanh relu sign square floor ceil trunc round frac log1p log2 "
           "log10 expm1 reciprocal rsqrt erf erfc sinc acos acosh asin asinh atan atanh cosh sinh deg2rad rad2deg "
           "mul pow clamp atan2 lerp hypot copysign nan_to_num remainder fmod floor_divide "
           "bitwise_not bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift gcd lcm "
           "clamp_min clamp_max ldexp heaviside nextafter renorm "
           "tril triu cumsum cumprod scatter scatter_add scatter_reduce index_add index_fill index_copy "
           "masked_scatter addcmul addcdiv addmm addmv addr baddbmm sgn conj_physical").split()
INPLACE_OF = {"add_": E.add, "sub_": E.sub, "div_": E.div}  # (x.add(y) is the class body's: no out=)
# eq_, lt_, logical_and_, ...: the result (bool) written into x in x's dtype
INPLACE_CAST = "eq ne lt le gt ge logical_not logical_and logical_or logical_xor".split()
# lgamma_, ...: refused on an integer x, whose dtype cannot hold the float result (special.inplace_guard)
INPLACE_GUARDED = "lgamma digamma polygamma mvlgamma erfinv i0 logit igamma igammac exp2 xlogy".split()
# t_, squeeze_, ...: x itself takes the view's shape (and the view op's history)
VIEW_INPLACE = {"t_": lambda x: S.t(x), "transpose_": lambda x, dim0, dim1: S.transpose(x, dim0, dim1),
                "squeeze_": lambda x, *dim: S.squeeze(x, *dim), "unsqueeze_": lambda x, dim: S.unsqueeze(x, dim)}

# ------------------------------------------------------------------ other spellings: name -> method's name
ALIASES = {"multiply": "mul", "negative": "neg", "clip": "clamp", "subtract": "sub", "divide": "div",
           "true_divide": "div", "arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
           "arccosh": "acosh", "arctanh": "atanh", "arctan2": "atan2", "fix": "trunc",
           "swapdims": "transpose", "moveaxis": "movedim", "absolute": "abs", "greater": "gt",
           "greater_equal": "ge", "less": "lt", "less_equal": "le", "not_equal": "ne", "ger": "outer",
           "clip_": "clamp_", "absolute_": "abs_", "divide_": "div_", "multiply_": "mul_", "subtract_": "sub_",
           "negative_": "neg_", "arccos_": "acos_", "arccosh_": "acosh_", "arcsin_": "asin_", "arcsinh_": "asinh_",
           "arctan_": "atan_", "arctanh_": "atanh_", "arctan2_": "atan2_", "fix_": "trunc_", "greater_": "gt_",
           "greater_equal_": "ge_", "less_": "lt_", "less_equal_": "le_", "not_equal_": "ne_",
           "swapaxes_": "transpose_", "swapdims_": "transpose_", "__iand__": "bitwise_and_",
           "__ior__": "bitwise_or_", "__ixor__": "bitwise_xor_", "__ilshift__": "bitwise_left_shift_",
           "__irshift__": "bitwise_right_shift_"}

# ------------------------------------------------------------------ attributes
PROPERTIES = {"real": property(CX.real, X.set_real), "imag": property(CX.imag, X.set_imag)}
CONSTANTS = dict({name: False for name in ("is_mps", "is_xpu", "is_ipu", "is_xla", "is_mtia", "is_maia", "is_vulkan",
                                           "is_mkldnn", "is_nested", "is_sparse_csr")}, is_cpu=True)

def _cast_back(fn):
    def cast(a, *args):
        return fn(a, *args).to(a.dtype)
    return cast


_CLASS_BODY = frozenset(Tensor.__dict__)  # (this module loads before bind() runs)


def table(existing=_CLASS_BODY):
    """{name: what Tensor.name is}: every entry above, each name once (a ValueError names a name
    given twice, or one the class body defines already)."""
    out = {}

    def put(name, value):
        if name in out or name in existing:
            raise ValueError("Tensor.%s is given twice (fastgrad/_tensor_methods.py, fastgrad/_tensor.py)" % name)
        out[name] = value

    for name, fn in METHODS.items():
        put(name, fn)
    for name in INPLACE:
        put(name + "_", X.inplace_method(METHODS[name], name + "_"))
    for name, fn in INPLACE_OF.items():
        put(name, X.inplace_method(fn, name))
    for name in INPLACE_CAST:
        put(name + "_", X.inplace_method(_cast_back(METHODS[name]), name + "_"))
    for name in INPLACE_GUARDED:
        put(name + "_", SPC.inplace_guard(X.inplace_method(METHODS[name], name + "_")))
    for name, fn in VIEW_INPLACE.items():
        put(name, X.view_inplace(name, fn))
    for name, value in list(PROPERTIES.items()) + list(CONSTANTS.items()):
        put(name, value)
    for name, target in ALIASES.items():
        put(name, out[target] if target in out else getattr(Tensor, target))
    return out


def bind():
    """Bind the table onto Tensor (fastgrad/__init__.py, once, last)."""
    if "__getitem__" in Tensor.__dict__:
        return
    for name, value in table().items():
        setattr(Tensor, name, value)
