"""torch accepts the keyword spelling of arguments that fastgrad once took only positionally:
sizes of the varargs ops (zeros(size=...), x.view(size=...), x.reshape(shape=...), x.permute(dims=...),
x.expand(size=...), x.repeat(repeats=...), x.tile(dims=...), x.new_zeros(size=...), x.resize_(size=...)),
x.view(dtype), cat(axis=), x.split(split_size=), x.swapaxes(axis0=, axis1=). Found by pytorch/examples'
gat/main.py (`torch.empty(size=(in_features, n_hidden))`). Each is compared with torch."""
import numpy as np
import pytest

import fastgrad

CASES = {
    "empty": lambda t: t.empty(size=(2, 3)).shape,
    "zeros": lambda t: t.zeros(size=(2, 3)),
    "ones": lambda t: t.ones(size=[2], dtype=t.float64),
    "rand": lambda t: t.rand(size=(2,)).shape,
    "randn": lambda t: t.randn(size=(2, 1)).shape,
    "new_zeros": lambda t: t.ones(2).new_zeros(size=(3,)),
    "new_ones": lambda t: t.ones(2).new_ones(size=(3, 1)),
    "new_empty": lambda t: t.ones(2).new_empty(size=(3,)).shape,
    "reshape": lambda t: t.arange(6).reshape(shape=(2, 3)),
    "torch.reshape": lambda t: t.reshape(t.arange(6), shape=(3, -1)),
    "view": lambda t: t.arange(6).view(size=(2, 3)),
    "expand": lambda t: t.ones(1).expand(size=(3,)),
    "permute": lambda t: t.arange(6).view(2, 3).permute(dims=(1, 0)),
    "torch.permute": lambda t: t.permute(t.arange(6).view(2, 3), dims=(1, 0)),
    "repeat": lambda t: t.arange(2).repeat(repeats=(2, 2)),
    "tile": lambda t: t.arange(2).tile(dims=(2,)),
    "resize_": lambda t: t.arange(6).resize_(size=(2, 3)),
    "cat_axis": lambda t: t.cat([t.ones(2), t.zeros(1)], axis=0),
    "split": lambda t: t.arange(4).split(split_size=2),
    "split_sizes": lambda t: t.arange(4).split(split_size=[1, 3]),
    "swapaxes": lambda t: t.arange(6).view(2, 3).swapaxes(axis0=0, axis1=1),
    "swapdims": lambda t: t.arange(6).view(2, 3).swapdims(dim0=0, dim1=1),
    "view_int32": lambda t: t.ones(2).view(t.int32),
    "view_dtype_kw": lambda t: t.ones(2).view(dtype=t.uint8),
    "view_half": lambda t: t.ones(2).view(t.float16),
    "view_wider": lambda t: t.arange(6, dtype=t.int16).view(t.int32),
    "view_wider_2d": lambda t: t.arange(8, dtype=t.int16).view(2, 4).view(t.int64),
    "view_bool": lambda t: t.tensor([1, 0, 2], dtype=t.uint8).view(t.bool),
    "view_0d": lambda t: t.ones(()).view(t.int32),
    "view_col": lambda t: t.ones(3, 2)[:, :1].view(t.float16),
    "view_empty": lambda t: t.ones(0).view(t.float64).shape,
}
ERRORS = {
    "view_0d_width": lambda t: t.ones(()).view(t.float16),
    "view_stride": lambda t: t.ones(3, 2).t().view(t.float16),
    "view_divisible": lambda t: t.ones(3, 3, dtype=t.float16).view(t.float32),
    "view_offset": lambda t: t.ones(4, dtype=t.float16)[1:3].view(t.float32),
    "view_row_stride": lambda t: t.ones(3, 6, dtype=t.float16)[:, :2].view(t.float32) if False else
    t.ones(3, 3, dtype=t.float16)[:, :2].view(t.float32),
}


def _np(x):
    if isinstance(x, (tuple, list)) and x and hasattr(x[0], "numpy"):
        return [np.asarray(v.numpy()) for v in x]
    return np.asarray(x.numpy()) if hasattr(x, "numpy") else tuple(x)


@pytest.mark.parametrize("name", sorted(CASES))
def test_keyword_form_as_torch(name, torch):
    got, want = _np(CASES[name](fastgrad)), _np(CASES[name](torch))
    if isinstance(want, list):
        assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))
    elif isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    else:
        assert got == want


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_view_dtype_errors_as_torch(name, torch):
    with pytest.raises(RuntimeError) as theirs:
        ERRORS[name](torch)
    with pytest.raises(RuntimeError, match="^%s$" % __import__("re").escape(str(theirs.value))):
        ERRORS[name](fastgrad)


def test_view_dtype_shares_memory_and_has_no_history():
    x = fastgrad.zeros(2, requires_grad=True)
    y = (x * 1).view(fastgrad.int32)
    assert y.grad_fn is None and not y.requires_grad
    base = fastgrad.zeros(2)
    v = base.view(fastgrad.int32)
    v[0] = 1065353216  # the bits of 1.0f
    assert base.tolist() == [1.0, 0.0]
    assert v._version == base._version


@pytest.mark.parametrize("call", [lambda t: t.zeros(size=4), lambda t: t.ones(2).repeat(repeats=2),
                                  lambda t: t.ones(2).permute(dims=0), lambda t: t.ones(1).expand(size=3),
                                  lambda t: t.ones(4).reshape(shape=4), lambda t: t.ones(4).new_zeros(size=4),
                                  lambda t: t.ones(4).tile(dims=2), lambda t: t.ones(4).resize_(size=4)])
def test_size_keyword_takes_a_sequence_as_torch(call, torch):
    with pytest.raises(TypeError) as theirs:
        call(torch)
    with pytest.raises(TypeError, match="^%s$" % __import__("re").escape(str(theirs.value))):
        call(fastgrad)


def test_sizes_twice_is_an_error():
    with pytest.raises(TypeError):
        fastgrad.zeros(2, size=(3,))
    with pytest.raises(TypeError):
        fastgrad.ones(2).view(2, size=(2,))
