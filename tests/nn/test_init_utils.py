"""nn.init (formulas, in place, reproducible) and nn.utils (clipping, vector conversion) vs PyTorch."""
import math

import numpy as np
import pytest
from nn_helpers import assert_close

import fastgrad
from fastgrad import nn
from fastgrad.nn import init
from fastgrad.nn.utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters


def test_calculate_gain_matches_torch(torch):
    for nl, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                      ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert init.calculate_gain(nl, param) == torch.nn.init.calculate_gain(nl, param)
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        init.calculate_gain("foo")


def _std(fn, shape=(200, 300), **kw):
    t = fastgrad.empty(shape)
    data = t._data
    version = t._version
    out = fn(t, **kw)
    assert out is t and t._data is data and t._version > version  # in place
    return t.numpy()


def test_distributions():
    fan_in, fan_out = 300, 200
    w = _std(init.kaiming_uniform_, a=math.sqrt(5))
    assert abs(np.abs(w).max() - 1 / math.sqrt(fan_in)) < 1e-3
    assert abs(_std(init.kaiming_normal_, mode="fan_out", nonlinearity="relu").std() - math.sqrt(2 / fan_out)) < 3e-3
    assert abs(_std(init.xavier_normal_).std() - math.sqrt(2 / (fan_in + fan_out))) < 3e-3
    assert abs(np.abs(_std(init.xavier_uniform_, gain=2.0)).max() - 2 * math.sqrt(6 / (fan_in + fan_out))) < 1e-3
    u = _std(init.uniform_, a=-2, b=3)
    assert u.min() >= -2 and u.max() <= 3 and abs(u.mean() - 0.5) < 0.05
    assert abs(_std(init.normal_, mean=1, std=0.5).mean() - 1) < 0.01
    t = _std(init.trunc_normal_, a=-1.0, b=1.0)
    assert t.min() >= -1 and t.max() <= 1
    assert (_std(init.constant_, val=0.3) == np.float32(0.3)).all()
    assert (_std(init.zeros_) == 0).all() and (_std(init.ones_) == 1).all()
    assert np.array_equal(_std(init.eye_, shape=(3, 4)), np.eye(3, 4))
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed"):
        init.xavier_uniform_(fastgrad.empty(3))
    with pytest.raises(ValueError, match="Mode fan_x not supported"):
        init.kaiming_uniform_(fastgrad.empty(3, 3), mode="fan_x")


def test_orthogonal():
    for shape in [(4, 6), (6, 4), (3, 2, 2)]:
        q = _std(init.orthogonal_, shape=shape, gain=2.0).reshape(shape[0], -1)
        small = q @ q.T if shape[0] <= q.shape[1] else q.T @ q
        np.testing.assert_allclose(small, 4 * np.eye(small.shape[0]), atol=1e-5)


def test_init_on_parameters_under_no_grad_and_seeded():
    p = nn.Parameter(fastgrad.empty(3, 4))
    init.xavier_uniform_(p)
    assert p.grad_fn is None and p.is_leaf
    fastgrad.manual_seed(5)
    a = init.normal_(fastgrad.empty(5)).numpy().copy()
    fastgrad.manual_seed(5)
    assert np.array_equal(a, init.normal_(fastgrad.empty(5)).numpy())
    g = fastgrad.Generator().manual_seed(1)
    b = init.uniform_(fastgrad.empty(4), generator=g).numpy().copy()
    g.manual_seed(1)
    assert np.array_equal(b, init.uniform_(fastgrad.empty(4), generator=g).numpy())


def _params_with_grads(lib, grads):
    ps = []
    for g in grads:
        p = lib.nn.Parameter(lib.zeros(g.shape))
        p.grad = lib.tensor(g.copy())
        ps.append(p)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (5,)]]
    fp, tp = _params_with_grads(fastgrad, grads), _params_with_grads(torch, grads)
    fn = clip_grad_norm_(fp, max_norm, norm_type)
    tn = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    assert_close(fn, tn, 1e-5, 1e-6)
    for f, t in zip(fp, tp):
        assert_close(f.grad, t.grad, 1e-5, 1e-6)


def test_clip_grad_errors_and_value(torch):
    p = nn.Parameter(fastgrad.zeros(2))
    p.grad = fastgrad.tensor([float("nan"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_([nn.Parameter(fastgrad.zeros(1))], 1.0).item() == 0.0
    grads = [np.array([-3.0, 0.5, 2.0], np.float32)]
    fp, tp = _params_with_grads(fastgrad, grads), _params_with_grads(torch, grads)
    clip_grad_value_(fp, 1.0)
    torch.nn.utils.clip_grad_value_(tp, 1.0)
    assert_close(fp[0].grad, tp[0].grad)


def test_parameters_to_vector_and_back():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (11,)
    vec.sum().backward()
    assert all((p.grad.numpy() == 1).all() for p in model.parameters())
    vector_to_parameters(fastgrad.arange(11).float(), model.parameters())
    assert model[0].weight.tolist() == [[0, 1, 2], [3, 4, 5]] and model[1].bias.tolist() == [10.0]
    with pytest.raises(TypeError):
        vector_to_parameters([1, 2], model.parameters())
