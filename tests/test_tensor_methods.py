"""fastgrad/_tensor_methods.py: the one table of Tensor's op methods, bound in one pass."""
import pytest

import fastgrad
from fastgrad import _tensor_methods as TM


def test_every_table_entry_is_bound():
    table = TM.table()
    assert len(table) > 400
    for name, value in table.items():
        # the bound method, or a wrapper of it (functools.wraps chain): autocast wraps what it casts
        # on its first use
        chain = [fastgrad.Tensor.__dict__[name]]
        while hasattr(chain[-1], "__wrapped__"):
            chain.append(chain[-1].__wrapped__)
        assert value in chain or name.endswith("_") or name in TM.ALIASES, name


def test_the_uint16_refusal_is_the_ops_own_no_wrapper_after_binding(torch):
    """The ops torch refuses for uint16/32/64 declare it where they are defined (fastgrad/_ops/unsigned.py):
    the public function is the op module's function, the method is the table's, and both refuse."""
    from fastgrad._ops import elementwise as E, indexing as I, sorting as SO

    for name, module in (("add", E), ("lt", E), ("pow", E), ("flip", I), ("topk", SO), ("clamp", E)):
        assert getattr(fastgrad, name) is getattr(module, name), name
        assert getattr(fastgrad.Tensor, name) is TM.table().get(name, getattr(fastgrad.Tensor, name)), name
    assert fastgrad.Tensor.__lt__ is E.lt and fastgrad.Tensor.topk is SO.topk
    x, t = fastgrad.tensor([3, 1, 2], dtype=fastgrad.uint16), torch.tensor([3, 1, 2], dtype=torch.uint16)
    for call in (lambda T, v: v < 2, lambda T, v: T.topk(v, 1), lambda T, v: v.topk(1), lambda T, v: v.add(v),
                 lambda T, v: v.clamp_(0, 1), lambda T, v: v + v):
        with pytest.raises(NotImplementedError) as want:
            call(torch, t)
        with pytest.raises(NotImplementedError) as got:
            call(fastgrad, x)
        assert str(got.value) == str(want.value)


def test_a_name_given_twice_is_refused(monkeypatch):
    monkeypatch.setitem(TM.METHODS, "numel", TM.METHODS["sum"])  # numel is the class body's
    with pytest.raises(ValueError, match="Tensor.numel is given twice"):
        TM.table()
    monkeypatch.setattr(TM, "INPLACE", TM.INPLACE + ["exp"])  # exp_ twice
    monkeypatch.delitem(TM.METHODS, "numel")
    with pytest.raises(ValueError, match="Tensor.exp_ is given twice"):
        TM.table(existing={})


def test_inplace_form_writes_the_op_into_self(torch):
    x = fastgrad.tensor([1.0, -2.0, 3.0])
    assert x.add_(fastgrad.tensor([1.0, 1.0, 1.0]), alpha=2) is x
    t = torch.tensor([1.0, -2.0, 3.0]).add_(torch.tensor([1.0, 1.0, 1.0]), alpha=2)
    assert x.tolist() == t.tolist()
    assert x.absolute_().tolist() == t.absolute_().tolist()  # an alias of an in-place form
    assert fastgrad.Tensor.add_.__name__ == "add_"
