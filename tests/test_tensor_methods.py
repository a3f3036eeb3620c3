"""fastgrad/_tensor_methods.py: the one table of Tensor's op methods, bound in one pass."""
import pytest

import fastgrad
from fastgrad import _tensor_methods as TM


def test_every_table_entry_is_bound():
    table = TM.table()
    assert len(table) > 400
    for name, value in table.items():
        # the bound method, or a wrapper of it (functools.wraps chain): _ops/unsigned.py's uint16/32/64
        # refusal wraps some after binding, and autocast wraps what it casts on its first use
        chain = [fastgrad.Tensor.__dict__[name]]
        while hasattr(chain[-1], "__wrapped__"):
            chain.append(chain[-1].__wrapped__)
        assert value in chain or name.endswith("_") or name in TM.ALIASES, name


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
