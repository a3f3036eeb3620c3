# C declarations for _engine.py (Cython's "augmenting .pxd": the .py stays plain Python).
cdef class Version:
    cdef public long value

cdef class TensorBase:
    cdef public object _data
    cdef public object _grad
    cdef public Node _grad_fn
    cdef public bint _requires_grad
    cdef public Version _vc
    cdef public int _output_nr
    cdef public object _acc
    cdef public object _hooks
    cdef public object _post_acc_hooks
    cdef public object _fw_grad
    cdef public object _base
    cdef object __weakref__

cdef class Node:
    cdef public tuple next_functions
    cdef public long _seq
    cdef public int _n_out
    cdef public object _pre_hooks
    cdef public object _post_hooks
    cdef object __weakref__

cdef class AccumulateGrad(Node):
    cdef public object _leaf

cdef class SavedOutput:
    cdef public object data
    cdef public int idx
    cdef public Version vc
    cdef public long version

cdef class FunctionNode(Node):
    cdef public object _fn
    cdef public tuple _saved
    cdef public tuple _saved_versions
    cdef public tuple _in_meta
    cdef public tuple _out_meta
    cdef public tuple needs_input_grad
    cdef public bint materialize_grads
    cdef public bint _released
    cdef public object _to_save
    cdef public object _non_diff
    cdef public object _dirty

cpdef make_tensor(data, bint requires_grad=*)
cpdef make_view(data, base)
cpdef tuple grad_edge(TensorBase t)
