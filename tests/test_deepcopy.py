"""copy.deepcopy of tensors and modules gives independent storage and autograd state on both
backends (the pure-NumPy backend once shared buffers' memory and a leaf's gradient accumulator)."""
import copy

import numpy as np

import fastgrad


def test_deepcopy_of_a_module_owns_its_buffers_and_parameters():
    bn = fastgrad.nn.BatchNorm1d(3)
    c = copy.deepcopy(bn)
    for (name, a), b in zip(bn.state_dict().items(), c.state_dict().values()):
        assert not np.shares_memory(a.numpy(), b.numpy()), name
    bn.train()
    bn(fastgrad.randn(8, 3))
    assert not np.array_equal(bn.running_mean.numpy(), c.running_mean.numpy())


def test_deepcopy_of_a_leaf_after_backward_accumulates_into_itself():
    t = fastgrad.zeros(3, requires_grad=True)
    (t * 2).sum().backward()
    u = copy.deepcopy(t)
    (u * 3).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(u.grad.numpy(), [5.0, 5.0, 5.0])  # the copied grad plus its own, as torch
    assert not np.shares_memory(t.detach().numpy(), u.detach().numpy())


def test_deepcopy_keeps_python_attributes_and_drops_view_links():
    t = fastgrad.zeros(3)
    t.note = "kept"
    assert copy.deepcopy(t).note == "kept"
    v = fastgrad.zeros(4)[:2]
    w = copy.deepcopy(v)
    w[0] = 1.0
    assert v[0].item() == 0.0 and w._base is None
