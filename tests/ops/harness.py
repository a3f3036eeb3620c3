"""Turning op_db samples into tensors of either library, and comparing results."""
import numpy as np

import fastgrad

TOL = {  # (rtol, atol) for values and for gradients
    "float32": ((1e-4, 1e-5), (1e-3, 1e-4)),
    "float64": ((1e-7, 1e-9), (1e-6, 1e-8)),
}


def _layout(a, noncontig):
    """A copy of a with the same values; non-contiguous (a strided or Fortran view) if asked."""
    if not noncontig or a.ndim == 0 or a.size < 2:
        return np.array(a, copy=True)
    if a.ndim == 1:
        big = np.empty(a.shape[0] * 2, a.dtype)
        big[::2] = a
        return big[::2]
    return np.asfortranarray(a)


def make_inputs(lib, sample, dtype, requires_grad=True):
    """(args, differentiable tensors): float arrays become `dtype` leaves that require grad."""
    args, diff = [], []
    for k, a in enumerate(sample.args):
        if not isinstance(a, np.ndarray):
            args.append(a)
            continue
        if a.dtype.kind == "f":
            arr = _layout(a.astype(dtype), sample.noncontig)
            t = lib.from_numpy(arr)
            if requires_grad and k not in sample.nograd:
                t.requires_grad_(True)
                diff.append(t)
        else:
            t = lib.from_numpy(np.array(a, copy=True))
        args.append(t)
    return args, diff


def flatten(out):
    """The tensors and numbers of an op's result, in order (tuples and namedtuples unpacked)."""
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res += flatten(o)
        return res
    return [out]


def to_numpy(x):
    if hasattr(x, "detach"):
        return np.asarray(x.detach().numpy())
    return np.asarray(x)


def assert_close(actual, expected, rtol, atol, what):
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, "%s: shape %s != torch's %s" % (what, a.shape, e.shape)
    if e.dtype.kind in "fc":
        np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol,
                                   equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(a, e, err_msg=what)


def is_fastgrad(x):
    return isinstance(x, fastgrad.Tensor)


def diff_fn(entry, sample, floats_only=False):
    """(fn, leaves): fn maps the sample's differentiable float64 tensors to the op's tensor
    outputs (only the floating ones with floats_only), the other arguments held fixed; for
    gradcheck, gradgradcheck and jvp checks."""
    args, diff = make_inputs(fastgrad, sample, "float64")
    positions = [k for k, a in enumerate(args) if any(a is d for d in diff)]

    def fn(*ts):
        full = list(args)
        for k, t in zip(positions, ts):
            full[k] = t
        return tuple(o for o in flatten(entry.fn(fastgrad, *full, **sample.kwargs))
                     if is_fastgrad(o) and (not floats_only or o.dtype.is_floating_point))

    return fn, tuple(diff)
