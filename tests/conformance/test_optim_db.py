"""Conformance with PyTorch's optimizer database, ``torch.testing._internal.common_optimizers.optim_db``.

For every OptimizerInfo whose optimizer fastgrad has, each configuration that
``_get_optim_inputs_including_global_cliquey_kwargs(device="cpu", dtype=float32)`` gives
(``optim_inputs_func``'s configurations, with the flags foreach/fused/differentiable set to False)
runs five steps (LBFGS: three) in torch and in fastgrad from the same float32 parameters (a
matrix, a vector and a 3-d tensor; two matrices for Muon) with the same gradients (a fixed NumPy
function of the current parameter values; SparseAdam gets it as ``to_sparse()`` in torch, LBFGS through a
closure). Parameters must agree to 1e-5 and the state_dicts must have the same structure
(param_groups and per-parameter state keys, dtypes, shapes) and values. Configurations with
foreach/fused/capturable/differentiable=True (``& flag`` variants) are not run: fastgrad accepts
the flags but has one implementation. ``optim_error_inputs_func``'s CPU inputs are checked too:
fastgrad raises (or warns) the same error type with a message matching torch's regex.

Census (torch 2.13, CPU, float32; both backends):
  optimizers:         15 of 15 optim_db optimizers exist in fastgrad and agree on every configuration
                      (on main before the optim branch: 5 of 15 -- SGD, Adam, AdamW, RMSprop, Adagrad)
  trajectory configs: 91 of 91 agree; KNOWN_FAILING is empty (before: the 39 of those 5 agreed,
                      52 could not run)
  error inputs:       122 of 124 agree; 2 out of scope (SparseAdam given a sparse-layout parameter:
                      fastgrad has no sparse layout) (before: 17 of the 5 optimizers' 40 agreed)

The ratchet: KNOWN_FAILING lists the (optimizer, config) pairs allowed to disagree (xfail strict,
so one that starts agreeing must be taken off the list), MISSING_OPTIMIZERS the optim_db names
fastgrad lacks; neither may grow."""
import re
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")
common_optimizers = pytest.importorskip("torch.testing._internal.common_optimizers")

import fastgrad  # noqa: E402
from fastgrad import optim  # noqa: E402

optim_db = common_optimizers.optim_db
OptimizerErrorEnum = common_optimizers.OptimizerErrorEnum

# (optimizer name, config desc) pairs allowed to disagree with torch; must not grow.
KNOWN_FAILING = set()
# optim_db entries fastgrad does not implement; must not grow.
MISSING_OPTIMIZERS = set()
# error inputs that cannot be expressed in fastgrad, with the reason.
OUT_OF_SCOPE_ERRORS = {
    ("SparseAdam", "dense params required"): "a sparse-layout parameter: fastgrad has no sparse layout",
    ("SparseAdam", "dense params required in param_groups"): "a sparse-layout parameter: fastgrad has no sparse layout",
}
FLAGS = ("foreach", "fused", "differentiable", "capturable")
STEPS = 5
# LBFGS's step is up to 20 iterations, and once it nears the optimum its stopping tests on float32
# losses (|loss - prev_loss| < 1e-9) depend on the last ulp: after three steps the counters
# (func_evals, n_iter) still agree, after five they no longer do.
LBFGS_STEPS = 3


def _has(info):
    return hasattr(optim, info.name)


def _configs():
    cases = []
    for info in optim_db:
        if not _has(info):
            continue
        inputs = common_optimizers._get_optim_inputs_including_global_cliquey_kwargs("cpu", torch.float32, info)
        seen = set()
        for oi in inputs:
            if any(oi.kwargs.get(flag) for flag in FLAGS) or oi.params is not None:
                continue
            desc = oi.desc
            while desc in seen:
                desc += "'"
            seen.add(desc)
            marks = [pytest.mark.xfail(strict=True, reason="known to disagree")] if (info.name, desc) in KNOWN_FAILING \
                else []
            cases.append(pytest.param(info, oi.kwargs, id=f"{info.name}-{desc}", marks=marks))
    return cases


def _to_fastgrad(value, memo):
    """torch tensors (and containers of them) -> fastgrad's, keeping identity (a parameter given
    twice stays one parameter)."""
    if isinstance(value, torch.Tensor):
        if id(value) in memo:
            return memo[id(value)]
        if value.layout != torch.strided:
            raise NotImplementedError("sparse layout")
        t = fastgrad.tensor(value.detach().numpy().copy())
        if isinstance(value, torch.nn.Parameter):
            t = fastgrad.nn.Parameter(t, requires_grad=value.requires_grad)
        if value.grad is not None:
            t.grad = fastgrad.tensor(value.grad.numpy().copy())
        memo[id(value)] = t
        return t
    if isinstance(value, dict):
        return {k: _to_fastgrad(v, memo) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_fastgrad(v, memo) for v in value)
    return value


def _grad(a, step, sparse=False):
    g = (2.0 * (a - 0.3) + 0.5 * np.sin(3.0 * a + step)).astype(a.dtype)
    if sparse:
        g[(np.arange(g.size).reshape(g.shape) + step) % 3 == 0] = 0
    return g


def _loss(a, step):
    """The function whose gradient _grad is (for LBFGS's closure)."""
    return float(np.sum((a.astype(np.float64) - 0.3) ** 2 - np.cos(3.0 * a.astype(np.float64) + step) / 6.0))


def _run(lib, mod, info, kwargs, init):
    memo = {}
    params = [lib.nn.Parameter(lib.tensor(a.copy())) for a in init]
    kw = {k: (_to_fastgrad(v, memo) if lib is fastgrad else v) for k, v in kwargs.items()}
    opt = getattr(mod, info.name)(params, **kw)
    sparse = info.only_supports_sparse_grads
    for step in range(LBFGS_STEPS if info.step_requires_closure else STEPS):
        if info.step_requires_closure:
            def closure(step=step):
                total = 0.0
                for p in params:
                    a = p.detach().numpy()
                    p.grad = lib.tensor(_grad(a, step))
                    total += _loss(a, step)
                return lib.tensor(np.float32(total))

            opt.step(closure)
        else:
            for p in params:
                g = lib.tensor(_grad(p.detach().numpy(), step, sparse))
                p.grad = g.to_sparse() if (sparse and lib is torch) else g
            opt.step()
    return params, opt


# LBFGS's curvature history is built from differences of nearly equal float32 gradients
# (y = g_k - g_{k-1}, ro = 1 / y.s): an ulp in a gradient is a relative error of 1e-3 there, so
# these entries are compared by structure (type, dtype, shape, length) only; the parameters,
# the counters, the loss are compared by value, and the last gradient to 5e-5 (the gradient's
# slope, up to 3.5, times the parameters' 1e-5).
STRUCTURE_ONLY = {"d", "t", "old_dirs", "old_stps", "ro", "H_diag", "al"}


def _same_value(f, t, values=True, atol=1e-5):
    if isinstance(t, torch.Tensor):
        return (isinstance(f, fastgrad.Tensor) and str(f.dtype).replace("fastgrad", "torch") == str(t.dtype)
                and list(f.shape) == list(t.shape)
                and (not values or np.allclose(f.numpy(), t.numpy(), rtol=1e-5, atol=atol)))
    if isinstance(t, (list, tuple)):
        return type(f) is type(t) and len(f) == len(t) and all(_same_value(a, b, values) for a, b in zip(f, t))
    if not values:
        return type(f) is type(t) or {type(f), type(t)} <= {int, float}
    return f == t or (isinstance(t, float) and np.isclose(f, t, rtol=1e-5, atol=1e-6))


def _assert_state_dicts_match(fs, ts, lbfgs):
    assert len(fs["param_groups"]) == len(ts["param_groups"])
    for fg, tg in zip(fs["param_groups"], ts["param_groups"]):
        assert list(fg) == list(tg)
        for key, tv in tg.items():
            fv = fg[key]
            if isinstance(tv, torch.Tensor):
                assert float(fv) == float(tv), key
            else:
                assert fv == tv, key
    assert list(fs["state"]) == list(ts["state"])
    for k, tstate in ts["state"].items():
        fstate = fs["state"][k]
        assert list(fstate) == list(tstate), k
        for key, tv in tstate.items():
            fv = fstate[key]
            atol = 5e-5 if lbfgs and key == "prev_flat_grad" else 1e-5
            assert _same_value(fv, tv, values=not (lbfgs and key in STRUCTURE_ONLY), atol=atol), key


@pytest.mark.parametrize("info,kwargs", _configs())
def test_optim_db_config_agrees(info, kwargs):
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (5, 2)] if info.name == "Muon" else [(3, 4), (4,), (2, 2, 3)]
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    fp, fo = _run(fastgrad, optim, info, kwargs, init)
    tp, to = _run(torch, torch.optim, info, kwargs, init)
    for f, t in zip(fp, tp):
        np.testing.assert_allclose(f.detach().numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-5)
    _assert_state_dicts_match(fo.state_dict(), to.state_dict(), info.step_requires_closure)


def _error_cases():
    cases = []
    for info in optim_db:
        if not _has(info):
            continue
        for ei in info.optim_error_inputs_func(device="cpu", dtype=torch.float32):
            desc = ei.optimizer_error_input.desc
            marks = [pytest.mark.skip(reason=OUT_OF_SCOPE_ERRORS[(info.name, desc)])] \
                if (info.name, desc) in OUT_OF_SCOPE_ERRORS else []
            cases.append(pytest.param(info, ei, id=f"{info.name}-{desc}", marks=marks))
    return cases


@pytest.mark.parametrize("info,error_input", _error_cases())
def test_optim_db_error_input_agrees(info, error_input):
    oi = error_input.optimizer_error_input
    memo = {}
    params = _to_fastgrad(oi.params, memo)
    kwargs = _to_fastgrad(oi.kwargs, memo)
    cls = getattr(optim, info.name)

    def act():
        if error_input.error_on == OptimizerErrorEnum.CONSTRUCTION_ERROR:
            cls(params, **kwargs)
        else:
            cls(params, **kwargs).step()

    if issubclass(error_input.error_type, Warning):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            act()
        assert any(issubclass(w.category, error_input.error_type) and re.search(error_input.error_regex,
                                                                                str(w.message)) for w in caught)
    else:
        with pytest.raises(error_input.error_type, match=error_input.error_regex):
            act()


def test_census_ratchet():
    """Every optim_db optimizer exists in fastgrad unless listed in MISSING_OPTIMIZERS, and the
    known-failing list only names configurations that exist."""
    names = {info.name for info in optim_db}
    missing = {n for n in names if not hasattr(optim, n)}
    assert missing <= MISSING_OPTIMIZERS, f"optimizers missing from fastgrad: {sorted(missing - MISSING_OPTIMIZERS)}"
    ids = {(p.values[0].name, p.id.split("-", 1)[1]) for p in _configs()}
    assert KNOWN_FAILING <= ids
    assert len(names) == 15 and len(ids) == 91
    # the ratchet's bounds: lower them as entries go, never raise them
    assert len(KNOWN_FAILING) <= 0 and len(MISSING_OPTIMIZERS) <= 0 and len(OUT_OF_SCOPE_ERRORS) <= 2
