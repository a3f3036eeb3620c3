"""The tape: backward, accumulation, graph freeing, in-place checks, hooks, grad mode, memory."""
import gc
import threading
import weakref

import numpy as np
import pytest

import fastgrad as fg
from fastgrad.autograd import gradcheck


def test_backward_accumulates_into_leaves():
    x = fg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1, 2, 3]) + 3)


def test_implicit_gradient_only_for_one_element_outputs():
    x = fg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()
    (x.sum().reshape(1)).backward()  # one element is fine
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_backward_with_int_gradient_casts_to_output_dtype():
    x = fg.tensor([1.0, 4.0, 2.0], requires_grad=True)
    (x ** 2).backward(fg.tensor([1, 1, 1]))
    assert x.grad.dtype == fg.float32 and x.grad.tolist() == [2.0, 8.0, 4.0]


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        fg.ones(2).sum().backward()


def test_second_backward_through_freed_graph_raises():
    x = fg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = fg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]


def test_graph_without_saved_tensors_can_rerun():
    x = fg.tensor([1.0, 2.0], requires_grad=True)
    y = (x + 1.0).sum()
    y.backward()
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_deep_chain_is_iterative():
    x = fg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_diamond_graph_accumulates_once_per_path():
    x = fg.tensor(3.0, requires_grad=True)
    a = x * 2.0
    b = x * x
    (a * b + a).backward()  # d/dx (2x * x^2 + 2x) = 6x^2 + 2
    assert x.grad.item() == pytest.approx(6 * 9 + 2)


def test_broadcasting_is_undone():
    x = fg.randn(4, 3, requires_grad=True)
    b = fg.randn(3, requires_grad=True)
    c = fg.randn(4, 1, requires_grad=True)
    ((x + b) * c).sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), c.detach().numpy().sum() * np.ones(3), rtol=1e-5)
    np.testing.assert_allclose(c.grad.numpy(), (x + b).detach().numpy().sum(1, keepdims=True), rtol=1e-5)


def test_shared_gradient_buffers_do_not_alias_leaves():
    a = fg.ones(3, requires_grad=True)
    b = fg.ones(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad.zero_()
    assert b.grad.tolist() == [1.0, 1.0, 1.0]


def test_inplace_on_saved_tensor_is_detected():
    x = fg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    z = y * y  # saves y
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_inplace_on_saved_output_is_detected():
    x = fg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # saves its output
    y.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_array_backward_checks_what_it_saved():
    """linear and cross_entropy backpropagate through Op._array_backward (ctx.saved_arrays)
    when no graph is wanted: the same version and freed-graph checks as saved_tensors."""
    F = fg.nn.functional
    w = fg.randn(2, 4, requires_grad=True)
    x = fg.randn(3, 4)
    y = F.linear(x, w)
    x.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    h = F.linear(fg.randn(3, 4), w) * 1.0
    loss = F.cross_entropy(h, fg.tensor([0, 1, 1]))
    h.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    loss = F.cross_entropy(F.linear(fg.randn(3, 4), w), fg.tensor([0, 1, 1]))
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


def test_array_grads_check_what_they_saved():
    """Ops declared by array formulas (Op._array_grads: Mul, Div, Sin, Square...) read
    their saved arrays with the same version and freed-graph checks as saved_tensors."""
    for f in (lambda x, b: b * x, lambda x, b: b / x, lambda x, b: x.sin() * b, lambda x, b: x ** 2):
        x = fg.randn(3, requires_grad=True)
        b = fg.randn(3, requires_grad=True)  # (else b * x would not save x)
        h = x * 1.0
        y = f(h, b)
        h.add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
        loss = f(x * 1.0, b).sum()
        loss.backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            loss.backward()


def test_tensors_changed_in_place_before_they_are_saved(torch):
    """A tensor already changed in place (version > 0) when an op saves it: backward checks
    it against that version, not 0, for ops saving one or two tensors."""
    def run(lib, change_after):
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        b = lib.tensor([0.5, 2.0, -1.0], requires_grad=True)
        h = x * 1.0
        h.add_(1.0)
        k = b * 1.0
        k.mul_(2.0)
        y = (h * k).sum() + (h ** 2).sum() + h.sin().sum()
        if change_after:
            h.add_(1.0)
        y.backward()
        return x.grad.numpy(), b.grad.numpy()

    for got, want in zip(run(fg, False), run(torch, False)):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(RuntimeError, match="is at version 2; expected version 1"):
        run(fg, True)


def test_gradients_summed_for_a_node_with_many_outputs(torch):
    """Gradients arriving several times at outputs of a node with more than 64 outputs
    (the walk tracks which summed arrays it owns in a 64-bit mask) add up as in torch, and
    no output's gradient is added into another's."""
    def run(lib):
        class Rows(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return tuple(x[i] * 1.0 for i in range(x.shape[0]))

            @staticmethod
            def backward(ctx, *grads):
                return lib.stack(grads)

        x = lib.tensor(np.arange(210.0).reshape(70, 3) / 50, requires_grad=True)
        parts = Rows.apply(x)
        loss = 0
        for i in (1, 2, 63, 64, 65, 68):
            loss = loss + (parts[i] * 2.0).sum() + (parts[i] * parts[i]).sum() + (parts[i] * parts[1]).sum()
            loss = loss + (parts[i] + parts[i + 1]).sum()  # one gradient array for both: not owned
        loss.backward()
        return x.grad.numpy()

    np.testing.assert_allclose(run(fg), run(torch), rtol=1e-12)


def test_array_grads_are_checked_when_the_op_is_defined():
    from fastgrad._ops.base import GRAD, K, SAVED0, Op

    for bad in ([GRAD], (GRAD, 7), ((K.mul,),), ((1.5, GRAD, GRAD),),
                ((K.mul, GRAD, GRAD, GRAD),), ((K.mul, GRAD, "x"),)):
        with pytest.raises(TypeError, match="_array_grads"):
            type("Bad", (Op,), {"_kernel": K.mul, "_array_grads": bad})

    class ReadsNothing(Op):  # a formula reading a saved array the op does not save
        _kernel = K.mul
        _array_grads = ((K.mul, GRAD, SAVED0), GRAD)

    x = fg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="ReadsNothingBackward's _array_grads read saved array 0; it saved 0"):
        ReadsNothing.apply(x, x).sum().backward()


def test_inplace_on_leaf_requiring_grad_raises_outside_no_grad():
    w = fg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation"):
        w -= 1.0
    with fg.no_grad():
        w -= 1.0
    assert w.is_leaf and w.requires_grad and w.tolist() == [0.0, 0.0]


def test_inplace_on_non_leaf_is_differentiable(torch):
    def run(lib):
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        h = x * 2.0
        h += 1.0
        h *= x
        h.clamp_(min=0.0)
        h[0] = 5.0
        h.sum().backward()
        return x.grad.tolist(), h.detach().tolist()

    assert run(fg) == run(torch)


def test_setitem_mask_assignment():
    g = fg.tensor([[1.0, -1.0], [2.0, 3.0]])
    h = fg.tensor([[0.5, -0.5], [-2.0, 1.0]])
    gh = g.clone()
    gh[h < 0] = 0
    assert gh.tolist() == [[1.0, 0.0], [0.0, 3.0]]


def test_advanced_index_gradient_accumulates_repeats(torch):
    def run(lib):
        x = lib.arange(5.0, requires_grad=True) if lib is torch else lib.arange(5.0, requires_grad=True)
        idx = lib.tensor([0, 2, 2, 4, 0])
        (x[idx] * lib.tensor([1.0, 2.0, 3.0, 4.0, 5.0])).sum().backward()
        return x.grad.tolist()

    assert run(fg) == run(torch)


def test_grad_mode_stays_per_thread_while_threads_interleave():
    """Two threads switching often, one in no_grad: each op sees its own thread's mode (the
    engine caches the last thread's modes; a stale cache would leak one into the other)."""
    import sys

    x = fg.ones(3, requires_grad=True)
    wrong = []

    def run(grad):
        with fg.set_grad_enabled(grad):
            for _ in range(3000):
                if (x * 2.0).requires_grad is not grad:
                    wrong.append(grad)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=run, args=(g,)) for g in (True, False)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert wrong == []


def test_a_new_thread_starts_with_grad_enabled():
    """A thread that turned grad off and ended does not pass its mode on to a later thread
    (which often gets the same thread id): each new thread starts with grad on, as in torch."""
    inherited = []

    def turn_off():
        fg.set_grad_enabled(False)

    def check():
        inherited.append(not fg.is_grad_enabled())

    for _ in range(50):
        for f in (turn_off, check):
            t = threading.Thread(target=f)
            t.start()
            t.join()
    assert not any(inherited)


def test_make_tensor_without_a_tensor_class_is_an_error():
    """The engine makes tensors through the registered class's tp_new: none registered is a
    TypeError, not a crash."""
    from fastgrad._backend import engine

    try:
        engine.register("tensor", None)
        with pytest.raises(TypeError):
            engine.make_tensor(np.zeros(2))
    finally:
        engine.register("tensor", fg.Tensor)
    assert type(engine.make_tensor(np.zeros(2))) is fg.Tensor


def test_no_grad_and_decorator_and_thread_local():
    x = fg.ones(2, requires_grad=True)
    with fg.no_grad():
        assert not (x * 2).requires_grad
        with fg.enable_grad():
            assert (x * 2).requires_grad

    @fg.no_grad()
    def f():
        return x * 2

    assert not f().requires_grad
    seen = []
    with fg.no_grad():
        t = threading.Thread(target=lambda: seen.append(fg.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]
    fg.set_grad_enabled(False)
    assert not fg.is_grad_enabled()
    fg.set_grad_enabled(True)
    with fg.set_grad_enabled(False):
        assert not fg.is_grad_enabled()
    assert fg.is_grad_enabled()


def test_detach_and_data_share_storage_without_history():
    x = fg.ones(3, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    d[0] = 7.0
    assert y[0].item() == 7.0
    assert x.data.requires_grad is False


def test_hooks_replace_gradient_and_retain_grad():
    x = fg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    y.retain_grad()
    h = y.register_hook(lambda g: g * 10)
    y.sum().backward()
    assert y.grad.tolist() == [10.0, 10.0]
    assert x.grad.tolist() == [30.0, 30.0]
    h.remove()
    x.grad = None
    x.register_hook(lambda g: g + 1)
    (x * 1.0).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_grad_fn_names_the_op():
    x = fg.ones(2, requires_grad=True)
    assert "MulBackward" in repr((x * x).grad_fn)
    assert (x * x).grad_fn.next_functions[0][0].variable is x


def test_autograd_grad_does_not_touch_leaves_and_checks_unused():
    x = fg.tensor([1.0, 2.0], requires_grad=True)
    z = fg.tensor([1.0], requires_grad=True)
    (g,) = fg.autograd.grad((x * x).sum(), x)
    assert g.tolist() == [2.0, 4.0] and x.grad is None
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        fg.autograd.grad((x * x).sum(), [x, z])
    gx, gz = fg.autograd.grad((x * x).sum(), [x, z], allow_unused=True)
    assert gz is None


def test_double_backward_through_first_ops(torch):
    def run(lib):
        x = lib.tensor([0.3, -1.2, 2.0], dtype=lib.float64, requires_grad=True)
        y = (x.sigmoid() * x.tanh() + x.exp() / (1 + x * x)).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (h,) = lib.autograd.grad((g * g).sum(), x)
        return g.detach().numpy(), h.numpy()

    for a, b in zip(run(fg), run(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_no_reference_cycles_keep_graphs_alive():
    gc.collect()
    gc.disable()
    try:
        x = fg.randn(10, requires_grad=True)
        y = (x.exp() * x).sigmoid().sum()
        ref = weakref.ref(y.grad_fn)
        y.backward()
        del y
        assert ref() is None, "graph kept alive by a reference cycle"
        z = (x * 2.0).tanh()
        zref = weakref.ref(z.grad_fn)
        del z
        assert zref() is None
    finally:
        gc.enable()


def test_training_loop_memory_is_flat():
    import tracemalloc

    w = fg.randn(50, 20, requires_grad=True)
    x = fg.randn(64, 50)

    def step():
        loss = (x @ w).relu().sum()
        loss.backward()
        with fg.no_grad():
            w.sub_(1e-4 * w.grad)
        w.grad = None

    for _ in range(20):
        step()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(200):
        step()
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert grown < 200_000, grown


@pytest.mark.parametrize("fn", [
    lambda a, b: (a * b + a / (b * b + 1.0)).sum(),
    lambda a, b: (a - b).abs().sum() + (a ** 3).mean(),
    lambda a, b: (a.exp() + (b * b + 1.0).log() + (b * b + 1.0).sqrt()).sum(),
    lambda a, b: (a.sigmoid() * b.tanh()).sum() + a.relu().sum() + a.clamp(-0.5, 0.5).sum(),
    lambda a, b: (a @ b.T).sum() + (a.sum(0) * b.mean(1, keepdim=True)).sum(),
    lambda a, b: a.max(dim=1)[0].sum() + b.min() + a.max(),
    lambda a, b: a.reshape(6).view(3, 2).permute(1, 0).flatten().unsqueeze(0).squeeze().sum() + a[1:, ::2].sum(),
    lambda a, b: (a @ b.t()).expand(2, 2, 2).sum() + a[[0, 0, 1]].sum() + a[a > 0].sum(),
    lambda a, b: fg.softmax(a, 1)[:, 0].sum() + fg.log_softmax(b, 0).sum() * 0.3,
    lambda a, b: fg.nn.functional.cross_entropy(a, fg.tensor([0, 1])) + fg.nn.functional.mse_loss(a, b),
    lambda a, b: ((a.abs() + 0.5) ** b).sum() + (2.0 ** a).sum() + (a ** 2).sum(),
])
def test_gradcheck_first_ops(fn):
    rs = np.random.RandomState(1)
    a = fg.tensor(rs.randn(2, 3), requires_grad=True)
    b = fg.tensor(rs.randn(2, 3), requires_grad=True)
    assert gradcheck(fn, (a, b), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_gradcheck_matmul_shapes():
    rs = np.random.RandomState(2)
    for sa, sb in [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 2, 3), (3, 4)), ((5, 1, 2, 3), (4, 3, 2))]:
        a = fg.tensor(rs.randn(*sa), requires_grad=True)
        b = fg.tensor(rs.randn(*sb), requires_grad=True)
        assert gradcheck(lambda a, b: a @ b, (a, b))


@pytest.mark.parametrize("fn", [
    lambda a: (a.sum(1) ** 2).sum(),
    lambda a: (a.mean(0, keepdim=True) ** 2).sum() + (a.sum() ** 2),
    lambda a: (a.max(dim=1)[0] ** 2).sum() + a.sigmoid().sum() + a.tanh().sum(),
    lambda a: (fg.log_softmax(a, 1) ** 2).sum() + (fg.softmax(a, 0) ** 2).sum(),
    lambda a: fg.nn.functional.cross_entropy(a, fg.tensor([2, 0])) + (a.relu() ** 2).sum(),
    lambda a: ((a @ a.t()) ** 2).sum() + (a[:, 1:] * a[:, :2]).sum() + (a.exp() / (a * a + 1.0)).log().sum(),
])
def test_gradgradcheck_first_ops(fn):
    a = fg.tensor(np.random.RandomState(3).randn(2, 3), requires_grad=True)
    assert fg.autograd.gradgradcheck(fn, (a,), eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("xshape", [(4, 3), (3,), (2, 4, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_first_and_second_derivatives(xshape, bias):
    rs = np.random.RandomState(4)
    x = fg.tensor(rs.randn(*xshape), requires_grad=True)
    w = fg.tensor(rs.randn(2, 3), requires_grad=True)
    b = fg.tensor(rs.randn(2), requires_grad=True) if bias else None
    args = (x, w, b) if bias else (x, w)

    def f(*a):
        return (fg.nn.functional.linear(*a).tanh() ** 2).sum()

    assert gradcheck(f, args)
    assert fg.autograd.gradgradcheck(f, args, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("op", ["mul", "div"])
def test_declared_saves_keep_only_what_backward_needs(op):
    """x * c and x / c with only x needing a gradient save c (and, for x / c, not x): x may
    be modified in place afterwards, c may not (as in PyTorch)."""
    f = (lambda a, b: a * b) if op == "mul" else (lambda a, b: a / b)
    x = fg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1.0
    c = fg.tensor([3.0, 4.0])
    y = f(h, c)
    h.add_(1.0)  # not saved
    y.sum().backward()
    want = [1 / 3.0, 1 / 4.0] if op == "div" else [3.0, 4.0]
    assert x.grad.tolist() == pytest.approx(want)
    h = x * 1.0
    y = f(h, c)
    c.add_(1.0)  # saved: backward must refuse
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_grad_property_set_check_and_delete(torch):
    """.grad lives on the compiled TensorBase: assignment is checked, del sets None, as in PyTorch."""
    for lib in (fg, torch):
        x = lib.ones(3, requires_grad=True)
        (x * 2.0).sum().backward()
        assert x.grad.tolist() == [2.0, 2.0, 2.0]
        with pytest.raises(RuntimeError, match=r"assign a gradient of size '\[2, 3\]' to a tensor of size '\[3\]'"):
            x.grad = lib.ones(2, 3)
        with pytest.raises(RuntimeError, match="attempting to assign a gradient with dtype"):
            x.grad = lib.ones(3, dtype=lib.float64)
        with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None"):
            x.grad = 3
        del x.grad
        assert x.grad is None
        x.grad = lib.zeros(3)
        assert x.grad.tolist() == [0.0, 0.0, 0.0]


# --------------------------------------------------------------------------- node metadata
@pytest.fixture(params=["backend", "pure"])
def eng(request):
    """The engine in use (compiled unless FASTGRAD_BACKEND=numpy), and _engine.py run as
    plain Python: node_meta and meta_is are C code in the first, their Python twins in the
    second."""
    from fastgrad import _backend

    if request.param == "backend":
        return _backend.engine
    return _backend._load_pure("_engine_check", "_engine.py")


def test_meta_is_checks_shape_and_dtype(eng):
    """The tape's check that a gradient has its input's recorded (shape, dtype)."""
    f4, f8 = np.dtype(np.float32), np.dtype(np.float64)
    a = np.zeros((3, 2), f4)
    assert eng.meta_is(a, ((3, 2), f4)) is True
    assert eng.meta_is(a.T, ((2, 3), f4)) is True  # any layout
    assert eng.meta_is(a, ((3, 2), np.dtype("=f4"))) is True  # an equal dtype object
    for meta in [((2, 3), f4), ((3, 2), f8), ((3, 2, 1), f4), ((3,), f4), ((), f4)]:
        assert eng.meta_is(a, meta) is False
    z = np.zeros((), f8)
    assert eng.meta_is(z, ((), f8)) is True and eng.meta_is(z, ((1,), f8)) is False
    assert eng.meta_is(np.float64(1.0), ((), f8)) is False  # a NumPy scalar is not an array
    assert eng.meta_is([1.0], ((1,), f8)) is False
    assert eng.meta_is(np.zeros(0, f4), ((0,), f4)) is True


def test_node_meta_shares_the_output_pair(eng):
    """The tape's record of a node: an input of the output's shape and dtype shares the
    output's (shape, dtype) pair; others get their own. Both backends alike."""
    f4, f8 = np.float32, np.float64
    out = np.zeros((3, 2), f4)
    same = np.ones((2, 3), f4).T  # same shape, other strides
    (om,), (ma, mb) = eng.node_meta(out, same, np.full((), 2, f4))
    assert om == ((3, 2), np.dtype(f4)) and ma is om and mb == ((), np.dtype(f4))
    (om,), (ma, mb) = eng.node_meta(out, np.ones((3, 1), f4), np.ones((3, 2), f8))
    assert ma == ((3, 1), np.dtype(f4)) and mb == ((3, 2), np.dtype(f8)) and mb is not om
    oms, ims = eng.node_meta(out, np.ones((3, 2), f4), None)
    assert ims is oms  # one input like the output: the very same tuple
    oms, ims = eng.node_meta(np.zeros((), f8), np.ones(5, f8), None)
    assert oms == (((), np.dtype(f8)),) and ims == (((5,), np.dtype(f8)),)
    with pytest.raises(TypeError):
        eng.node_meta(out, [1.0], None)


def test_meta_is_errors_and_fuzz(eng):
    """Bad metadata is a TypeError (never a crash); random arrays and pairs agree with the
    Python twin."""
    from fastgrad import _backend

    pure = _backend._load_pure("_engine_check2", "_engine.py")
    a = np.zeros((3, 2), np.float32)
    for bad in [None, ((3, 2),), ([3, 2], np.float32), "xy", ((3, 2), np.float32, 1)]:
        with pytest.raises(TypeError):
            eng.meta_is(a, bad)
    assert eng.meta_is(a, ((3, "2"), np.float32)) is False
    assert eng.meta_is(a, ((3, 2 ** 70), np.float32)) is False
    rng = np.random.default_rng(0)
    shapes = [(), (0,), (3,), (2, 3), (3, 2), (2, 3, 1)]
    dtypes = [np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64), np.dtype(">f4")]
    for _ in range(300):
        x = np.zeros(shapes[rng.integers(len(shapes))], dtypes[rng.integers(len(dtypes))])
        if rng.random() < 0.2 and x.ndim:
            x = x[..., ::-1]
        meta = (shapes[rng.integers(len(shapes))], dtypes[rng.integers(len(dtypes))])
        if rng.random() < 0.3:
            meta = (x.shape, x.dtype)
        assert eng.meta_is(x, meta) is pure.meta_is(x, meta)
        b = None if rng.random() < 0.3 else np.zeros(shapes[rng.integers(len(shapes))], dtypes[rng.integers(2)])
        o = np.zeros(x.shape, x.dtype) if rng.random() < 0.5 else np.zeros((2, 3), np.float32)
        assert eng.node_meta(o, x, b) == pure.node_meta(o, x, b)
    import sys  # the C code keeps its reference counts: none gained or lost over many calls

    f4 = np.dtype(np.float32)
    x, y = np.zeros((2, 3), f4), np.zeros((3,), f4)
    before = sys.getrefcount(f4)
    for _ in range(1000):
        eng.node_meta(x, y, x)
        eng.node_meta(x, x, None)
        eng.meta_is(x, ((2, 3), f4))
        eng.meta_is(x, ((2, 3), np.dtype("=f4")))
    assert sys.getrefcount(f4) == before
