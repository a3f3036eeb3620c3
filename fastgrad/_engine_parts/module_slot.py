# fastgrad._engine, part 7 of 7 (after backward.py): ModuleSlot (nn.Module attribute lookup without
# __getattr__), and the pure-Python defaults of the C fields. The parts in this folder run in one namespace,
# in fastgrad._engine._PARTS' order: fastgrad/_engine.py executes them as Python, setup.py compiles them as
# one Cython module (with fastgrad/_engine.pxd). Names from earlier parts are used without an import.

# --------------------------------------------------------------------------- nn.Module attributes
class ModuleSlot:
    """`module.weight` without Module.__getattr__ (issue 6): nn.Module puts one of these on a
    module's class for each parameter, buffer or submodule name it registers. It is a non-data
    descriptor, so an instance attribute of that name still wins; otherwise it looks the name
    up as Module.__getattr__ does (_parameters, _buffers, _modules), and when the instance has
    none of them it raises AttributeError, so Python falls back to __getattr__ and its message."""

    def __init__(self, name):
        self.name = name

    def __get__(self, obj, owner):
        if obj is None:
            raise AttributeError("type object '%s' has no attribute '%s'" % (owner.__name__, self.name))
        return _module_attr(self.name, obj.__dict__)


def _module_attr(name, d):
    for key in ("_parameters", "_buffers", "_modules"):
        sub = d.get(key)
        if sub is not None and name in sub:
            return sub[name]
    raise AttributeError(name)


# --------------------------------------------------------------------------- pure-Python build
# Compiled, the C fields of these classes start as None/0; run as Python they need defaults.
if __file__.endswith(".py"):
    for _cls, _fields in (
        (Version, {"value": 0}),
        (TensorBase, {"_data": None, "_grad": None, "_grad_fn": None, "_requires_grad": False,
                      "_vc": None, "_output_nr": 0, "_acc": None, "_hooks": None,
                      "_post_acc_hooks": None, "_fw_grad": None, "_base": None, "_view_ver": 0,
                      "_view_meta": None}),
        (Node, {"next_functions": (), "_n_out": 0, "_pre_hooks": None, "_post_hooks": None}),
        (FunctionNode, {"_fn": None, "_saved": None, "_saved_versions": None, "_in_meta": None,
                        "_out_meta": None, "needs_input_grad": None, "materialize_grads": True,
                        "_released": False, "_to_save": None, "_non_diff": None, "_dirty": None,
                        "_anomaly_trace": None}),
    ):
        for _name, _value in _fields.items():
            setattr(_cls, _name, _value)