"""torch's TypeError where an op's signature takes Tensors only and gets a Python number (or another
object): fastgrad computed torch.maximum(x, 2), torch.atan2(2, x), x.hypot_(2), torch.lerp(x, 2.5, 0.5),
torch.eq(2, x), ... (fastgrad/_ops/tensor_args.py). Each form's exception and message against torch's;
the forms torch accepts must still compute torch's result."""
import numpy as np
import pytest

import fastgrad
from fastgrad._ops.tensor_args import TENSOR_FIRST, TENSOR_ONLY


def _outcome(L, call):
    x = L.tensor([1.0, 2.0, -3.0])
    try:
        r = call(L, x)
    except Exception as e:  # noqa: BLE001  (torch's error is the expected result)
        return type(e).__name__, str(e)
    return "ok", np.asarray(r.detach().double().numpy()) if hasattr(r, "detach") else r


def _same(torch, call):
    f, t = _outcome(fastgrad, call), _outcome(torch, call)
    assert f[0] == t[0], (f, t)
    if f[0] == "ok":
        np.testing.assert_allclose(f[1], t[1], rtol=1e-6, equal_nan=True)
    else:
        assert f[1] == t[1]


def _fn(L, name):
    return getattr(L, name)


FORMS = {
    "fn(x, 2)": lambda L, n, x: _fn(L, n)(x, 2),
    "fn(2, x)": lambda L, n, x: _fn(L, n)(2, x),
    "fn(x, 2.5)": lambda L, n, x: _fn(L, n)(x, 2.5),
    "fn(x, None)": lambda L, n, x: _fn(L, n)(x, None),
    "fn(x, ndarray)": lambda L, n, x: _fn(L, n)(x, np.ones(3)),
    "fn(x, float64)": lambda L, n, x: _fn(L, n)(x, np.float64(2.0)),
    "method(2)": lambda L, n, x: getattr(x, n)(2),
    "inplace(2)": lambda L, n, x: getattr(x.clone(), n + "_")(2),
}
KEYWORDS = {"maximum": "other", "atan2": "other", "dot": "tensor", "outer": "vec2", "heaviside": "values"}


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("name", sorted(TENSOR_ONLY))
def test_tensor_only_ops_refuse_numbers(torch, name, form):
    if form.startswith(("method", "inplace")) and not hasattr(torch.Tensor, name + ("_" if form.startswith("in") else "")):
        pytest.skip("no such method in torch")
    _same(torch, lambda L, x: FORMS[form](L, name, x))


@pytest.mark.parametrize("name", sorted(KEYWORDS))
def test_keyword_argument_has_no_position(torch, name):
    p = KEYWORDS[name]
    _same(torch, lambda L, x: getattr(L, name)(x, **{p: 2}))
    _same(torch, lambda L, x: getattr(x, name)(**{p: 2.5}))


@pytest.mark.parametrize("name", sorted(TENSOR_FIRST))
def test_tensor_first_ops(torch, name):
    """torch.eq(2, x) is an invalid combination (its message lists the signatures); torch.eq(x, 2) computes."""
    if name == "bucketize":
        _same(torch, lambda L, x: L.bucketize(x, 2))
        _same(torch, lambda L, x: L.bucketize(2, L.tensor([0.0, 1.0, 3.0])))
        return
    _same(torch, lambda L, x: getattr(L, name)(2, x))
    _same(torch, lambda L, x: getattr(L, name)(None, x))
    _same(torch, lambda L, x: getattr(L, name)(2.5, **{"other" if name == "rsub" else "input": x})
          if name == "rsub" else getattr(L, name)(x, 2))
    if name != "searchsorted":
        _same(torch, lambda L, x: getattr(L, name)(x, 2.5))


LERPS = {
    "fn(2, x, .5)": lambda L, x: L.lerp(2, x, 0.5), "fn(x, 2.5, .5)": lambda L, x: L.lerp(x, 2.5, 0.5),
    "fn(x, 2, x)": lambda L, x: L.lerp(x, 2, x), "fn(x, x * 2, .25)": lambda L, x: L.lerp(x, x * 2, 0.25),
    "fn(x, x * 2, x)": lambda L, x: L.lerp(x, x * 2, x), "fn kw": lambda L, x: L.lerp(x, end=2, weight=0.5),
    "fn kw only": lambda L, x: L.lerp(input=2, end=x, weight=0.5),
    "m(2.5, .5)": lambda L, x: x.lerp(2.5, 0.5), "m(2, x)": lambda L, x: x.lerp(2, x),
    "m(None, .5)": lambda L, x: x.lerp(None, 0.5), "m(x * 2, .5)": lambda L, x: x.lerp(x * 2, 0.5),
    "m_(2, 1)": lambda L, x: x.clone().lerp_(2, 1), "m_(x + 1, x)": lambda L, x: x.clone().lerp_(x + 1, x),
}


@pytest.mark.parametrize("form", sorted(LERPS))
def test_lerp_end_must_be_a_tensor(torch, form):
    _same(torch, LERPS[form])


@pytest.mark.parametrize("call", [
    lambda L, x: L.pow(2, x), lambda L, x: L.remainder(2, x), lambda L, x: L.xlogy(x, 2), lambda L, x: x.copysign(-1),
    lambda L, x: L.fmod(x, 2), lambda L, x: L.clamp_min(x, 0), lambda L, x: L.maximum(x, L.tensor(0.5)),
    lambda L, x: x.maximum(L.tensor([0.0, 3.0, 1.0])), lambda L, x: L.atan2(x, L.tensor(2.0)),
])
def test_numbers_torch_accepts_still_compute(torch, call):
    _same(torch, call)
