"""The tape: grad mode, the autograd fields of a tensor, graph nodes, Function.apply and backward.

One source, two builds. The source is the parts in ``fastgrad/_engine_parts/`` (_PARTS below,
in order; they share one namespace). With a compiler, setup.py joins them into one file and
compiles it with Cython as this module (``_engine.pxd`` beside it declares the C types: nodes
and tensors become C structs, the graph walk a C loop; one module, so calls between parts stay
C calls). Without one, or when the NumPy backend is asked for, this file runs the same parts as
plain Python (``fastgrad/_backend.py`` picks which). So the engine logic exists once.

Graph shape (no reference cycles, so a graph dies with its last output tensor):
    output tensor --_grad_fn--> node --next_functions--> (input node, output index)
    node --_saved--> saved input tensors; saved *outputs* are kept as raw arrays
    leaf tensor --_acc--> AccumulateGrad --weakref--> leaf tensor
"""

import os as _os

_PARTS = (
    "modes",  # grad mode and the per-thread modes: state()
    "tensors",  # Version, TensorBase, array metadata, make_tensor, views, grad_edge
    "nodes",  # Node, AccumulateGrad, SavedOutput, FunctionNode, OpInfo
    "function_apply",  # Function.apply's general path, half precision, apply_op
    "fast_paths",  # apply1/apply2/apply3, unary/binary, recording and saving, forward AD
    "backward",  # the backward walk, gradient buffers, accumulation, hooks
    "module_slot",  # nn.Module attribute slots; the pure-Python defaults of the C fields
)
_PARTS_DIR = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "_engine_parts")


def _run_parts(namespace):
    for name in _PARTS:
        path = _os.path.join(_PARTS_DIR, name + ".py")
        with open(path, encoding="utf-8") as f:
            exec(compile(f.read(), path, "exec"), namespace)  # noqa: S102


_run_parts(globals())
