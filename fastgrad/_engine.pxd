# C declarations for fastgrad._engine (Cython's "augmenting .pxd": its source, the parts in
# fastgrad/_engine_parts/, stays plain Python).
cimport cython

ctypedef unsigned long long bits64  # _Pending.owned: one bit per output

cdef class Modes:
    cdef public bint grad_enabled
    cdef public int fw_level
    cdef public list fw_tensors
    cdef public long fw_generation
    cdef public bint anomaly
    cdef public object half

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
    cdef public long _view_ver  # a view's: the version its grad_fn was made at (views.refresh)
    cdef public object _view_meta  # a view's creation meta: None, or (kind, node name, output nr)
    cdef object __weakref__

cdef class Node:
    cdef public tuple next_functions
    cdef public int _n_out
    cdef public object _pre_hooks
    cdef public object _post_hooks
    cdef object __weakref__
    cdef list _apply_grads(self, list grads)
    cdef list _apply_arrays(self, list grads)
    cdef _release(self)

cdef class AccumulateGrad(Node):
    cdef public object _leaf

cdef class SavedOutput:
    cdef public object data
    cdef public int idx
    cdef public Version vc
    cdef public long version
    cdef public object fw_grad

cdef class OpInfo:
    cdef public type backward_cls
    cdef public object kernel
    cdef public tuple saves
    cdef public object array_backward
    cdef public tuple array_grads
    cdef public bint upcast_half
    cdef public bint quiet

@cython.locals(info=OpInfo)
cpdef OpInfo op_info(object fn)

cdef class FunctionNode(Node):
    cdef public object _fn
    cdef public OpInfo _info
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
    cdef public object _anomaly_trace
    @cython.locals(i=Py_ssize_t, out=list, g=object, gt=TensorBase, meta=tuple, result=object)
    cdef list _apply_grads(self, list grads)
    @cython.locals(i=Py_ssize_t, out=list, g=object, r=object, meta=tuple, info=OpInfo, specs=tuple)
    cdef list _apply_arrays(self, list grads)
    @cython.locals(f=object, saved=tuple, i=Py_ssize_t)
    cdef object _array_grad(self, object spec, object g)
    cdef TensorBase _fix_grad(self, TensorBase gt, tuple meta, Py_ssize_t i)
    @cython.locals(i=Py_ssize_t)
    cdef _zeros_for_none(self, list grads, bint tensors)
    @cython.locals(n=Py_ssize_t)
    cdef list _check_count(self, list result)
    @cython.locals(saved=tuple, out=list, i=Py_ssize_t)
    cdef tuple _saved_items(self, bint arrays)
    @cython.locals(so=SavedOutput, t=TensorBase, ti=TensorBase, sv=tuple, expected=long)
    cdef object _saved_item(self, tuple saved, Py_ssize_t i, bint arrays)
    cdef _release(self)

cdef class _Pending:
    cdef Node node
    cdef Py_ssize_t deps
    cdef list buf
    cdef bits64 owned
    cdef Py_ssize_t first  # its edges' records start at kids[first] (_run_backward)

cdef class UnaryFunction:
    cdef public object op
    cdef dict __dict__

cdef class ModuleSlot:
    cdef public str name

@cython.locals(sub=object)
cdef object _module_attr(str name, dict d)

cdef type _tensor_type
cdef object _trace_hook  # fastgrad.compile's op recorder (set_trace_hook)
cdef bint _COMPILED

cdef extern from *:
    """
    /* type(cls).__new__(cls) without arguments through cls's tp_new slot (_engine._new) */
    static PyObject *fg_tp_new(PyObject *cls) {
        static PyObject *no_args = NULL;
        if (cls == Py_None) {  /* fastgrad.Tensor not registered yet */
            PyErr_SetString(PyExc_TypeError, "_engine._new: no class to make an instance of");
            return NULL;
        }
        if (no_args == NULL && (no_args = PyTuple_New(0)) == NULL) return NULL;
        return ((PyTypeObject *)cls)->tp_new((PyTypeObject *)cls, no_args, NULL);
    }
    """
    object _c_tp_new "fg_tp_new"(type cls)

cdef object _new(type cls)

cimport numpy as cnp

cdef extern from *:
    int _c_import_array "_import_array"() except -1

cdef extern from *:
    """
    /* _engine._dtype, _has_base, _same_meta on an ndarray's C struct; anything else through
       its attributes (dtype and base) or False (same_meta, so the caller takes its general way). */
    static PyObject *fg_dtype(PyObject *a) {
        if (!PyArray_Check(a)) return PyObject_GetAttrString(a, "dtype");
        PyObject *d = (PyObject *)PyArray_DESCR((PyArrayObject *)a);
        Py_INCREF(d);
        return d;
    }
    static int fg_has_base(PyObject *a) {
        if (!PyArray_Check(a)) {
            PyObject *b = PyObject_GetAttrString(a, "base");
            if (b == NULL) return -1;
            Py_DECREF(b);
            return b != Py_None;
        }
        return PyArray_BASE((PyArrayObject *)a) != NULL;
    }
    /* _engine.node_meta and meta_is (their Python twins in _engine.py say what they do) */
    static PyObject *fg_meta_pair(PyArrayObject *x) {
        int nd = PyArray_NDIM(x);
        PyObject *shape = PyTuple_New(nd);
        if (shape == NULL) return NULL;
        for (int i = 0; i < nd; i++) {
            PyObject *v = PyLong_FromSsize_t(PyArray_DIMS(x)[i]);
            if (v == NULL) { Py_DECREF(shape); return NULL; }
            PyTuple_SET_ITEM(shape, i, v);
        }
        PyObject *pair = PyTuple_Pack(2, shape, (PyObject *)PyArray_DESCR(x));
        Py_DECREF(shape);
        return pair;
    }
    static int fg_same_dims(PyArrayObject *x, PyArrayObject *y) {
        int nd = PyArray_NDIM(x);
        if (nd != PyArray_NDIM(y)) return 0;
        for (int i = 0; i < nd; i++)
            if (PyArray_DIMS(x)[i] != PyArray_DIMS(y)[i]) return 0;
        return 1;
    }
    static int fg_like_out(PyArrayObject *x, PyArrayObject *o) {
        return PyArray_DESCR(x) == PyArray_DESCR(o) && fg_same_dims(x, o);
    }
    /* x's pair: out's own (a new reference) when x is like out, else a new one */
    static PyObject *fg_pair_of(PyObject *x, PyObject *out, PyObject *meta) {
        if (fg_like_out((PyArrayObject *)x, (PyArrayObject *)out)) { Py_INCREF(meta); return meta; }
        return fg_meta_pair((PyArrayObject *)x);
    }
    static PyObject *fg_node_meta(PyObject *out, PyObject *a, PyObject *b) {
        if (!PyArray_Check(out) || !PyArray_Check(a) || (b != Py_None && !PyArray_Check(b))) {
            PyErr_SetString(PyExc_TypeError, "node_meta: out and a must be ndarrays, b an ndarray or None");
            return NULL;
        }
        PyObject *res = NULL, *om = NULL, *ma = NULL, *mb = NULL, *ins = NULL;
        PyObject *meta = fg_meta_pair((PyArrayObject *)out);
        if (meta == NULL || (om = PyTuple_Pack(1, meta)) == NULL) goto done;
        if ((ma = fg_pair_of(a, out, meta)) == NULL) goto done;
        if (b == Py_None) {
            if (ma == meta) { Py_INCREF(om); ins = om; } else ins = PyTuple_Pack(1, ma);
        } else {
            if ((mb = fg_pair_of(b, out, meta)) == NULL) goto done;
            ins = PyTuple_Pack(2, ma, mb);
        }
        if (ins != NULL) res = PyTuple_Pack(2, om, ins);
    done:
        Py_XDECREF(meta); Py_XDECREF(om); Py_XDECREF(ma); Py_XDECREF(mb); Py_XDECREF(ins);
        return res;
    }
    static int fg_meta_is(PyObject *a, PyObject *meta) {
        if (!PyArray_Check(a)) return 0;
        if (!PyTuple_Check(meta) || PyTuple_GET_SIZE(meta) != 2 || !PyTuple_Check(PyTuple_GET_ITEM(meta, 0))) {
            PyErr_SetString(PyExc_TypeError, "meta_is: meta must be a (shape tuple, dtype) pair");
            return -1;
        }
        PyArrayObject *x = (PyArrayObject *)a;
        PyObject *shape = PyTuple_GET_ITEM(meta, 0), *dt = PyTuple_GET_ITEM(meta, 1);
        Py_ssize_t nd = PyTuple_GET_SIZE(shape);
        if (PyArray_NDIM(x) != nd) return 0;
        for (Py_ssize_t i = 0; i < nd; i++) {
            Py_ssize_t d = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, i));
            if (d == -1 && PyErr_Occurred()) { PyErr_Clear(); return 0; }  /* not a size: unequal */
            if (PyArray_DIMS(x)[i] != d) return 0;
        }
        if ((PyObject *)PyArray_DESCR(x) == dt) return 1;
        return PyObject_RichCompareBool((PyObject *)PyArray_DESCR(x), dt, Py_EQ);
    }
    static int fg_same_meta(PyObject *a, PyObject *b) {
        if (!PyArray_Check(a) || !PyArray_Check(b)) return 0;
        PyArrayObject *x = (PyArrayObject *)a, *y = (PyArrayObject *)b;
        return fg_same_dims(x, y) && PyArray_EquivTypes(PyArray_DESCR(x), PyArray_DESCR(y));
    }
    """
    object _c_dtype "fg_dtype"(object a)
    bint _c_has_base "fg_has_base"(object a) except -1
    bint _c_same_meta "fg_same_meta"(object a, object b)
    object _c_node_meta "fg_node_meta"(object out, object a, object b)
    bint _c_meta_is "fg_meta_is"(object a, object meta) except -1

cdef object _dtype(object a)
cdef bint _has_base(object a) except -1
cdef bint _same_meta(object a, object b) except -1
cpdef tuple node_meta(object out, object a, object b)
cpdef bint meta_is(object a, object meta) except -1

@cython.locals(so=SavedOutput)
cdef SavedOutput _saved_output(TensorBase t, int idx)
cdef type _ndarray

@cython.locals(edge=object)
cpdef tuple grad_edge(TensorBase t)

@cython.locals(owner=bint, a=object, t=TensorBase, ad=object)
cpdef bint may_alias(object d, tuple items, bint full_ok) except -1

# Typed locals for the hot paths (Cython's pure-Python mode reads these from here).
cimport cython

@cython.locals(ctx=FunctionNode, info=OpInfo, record=bint, fw=bint, builtin=bint, single=bint, a=object, o=object, st=Modes)
cpdef function_apply(object fn, tuple args, dict kwargs)

@cython.locals(t=TensorBase, dt=object)
cpdef bint _is_half(object a) except -1

@cython.locals(a=object)
cpdef bint _has_half(tuple args, dict kwargs) except -1

cpdef bint _inexact(object dt) except -1

@cython.locals(i=Py_ssize_t, t=TensorBase, a=object)
cpdef _record(FunctionNode ctx, tuple args, tuple raw, list outs)

@cython.locals(t=TensorBase)
cpdef make_tensor(data, bint requires_grad=*)

@cython.locals(t=TensorBase, meta=object)
cpdef make_view(data, TensorBase base)

cpdef view_fresh(TensorBase t)

@cython.locals(node=Node, nxt=Node, edges=tuple, edge=tuple, pending=dict, found=list, kids=list, rec=_Pending,
               nrec=_Pending, ready=list, top=Py_ssize_t, buf=list, owned_in=bits64, outs=list, j=Py_ssize_t,
               i=Py_ssize_t, k=Py_ssize_t, owned=bint, is_fresh=bint, t=TensorBase, anomaly=bint, arrays=bint)
cpdef _run_backward(tuple roots, tuple root_grads, bint keep_graph, bint create_graph, object inputs,
                    bint accumulate)

cpdef list _run_node(Node node, list buf, bint anomaly)

cpdef _wrap(object a)

@cython.locals(rec=_Pending)
cpdef _Pending _pending(Node node)

@cython.locals(out=list)
cpdef list _wrap_all(list arrays)

@cython.locals(out=list, t=TensorBase)
cpdef list _unwrap_all(list tensors)

@cython.locals(buf=list, bit=bits64)
cpdef _buffer_add(_Pending rec, Py_ssize_t nr, object g, bint is_fresh, bint create_graph)

cdef bits64 _owned_bit(Py_ssize_t nr)

@cython.locals(k=Py_ssize_t, b=object)
cpdef bint _owns(object d, list buf, list outs, Py_ssize_t j)

cpdef _accumulate(TensorBase leaf, TensorBase g, bint is_fresh, bint create_graph)

cdef extern from *:
    """
    /* _engine._accumulate's lock (its Python twin: _ACC_LOCK), taken without a Python call:
       at once when free, else waiting with the GIL released (its holder may need the GIL) */
    #include "pythread.h"
    static PyThread_type_lock fg_acc_lock = NULL;
    static int fg_acc_acquire(void) {
        if (fg_acc_lock == NULL && (fg_acc_lock = PyThread_allocate_lock()) == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        if (!PyThread_acquire_lock(fg_acc_lock, NOWAIT_LOCK)) {
            Py_BEGIN_ALLOW_THREADS
            PyThread_acquire_lock(fg_acc_lock, WAIT_LOCK);
            Py_END_ALLOW_THREADS
        }
        return 0;
    }
    static void fg_acc_release(void) { PyThread_release_lock(fg_acc_lock); }
    """
    int _c_acc_acquire "fg_acc_acquire"() except -1
    void _c_acc_release "fg_acc_release"()

@cython.locals(cur=TensorBase)
cdef _accumulate_locked(TensorBase leaf, TensorBase g, bint is_fresh, bint create_graph)

cpdef bint _any_not_none(list buf)

ctypedef unsigned long thread_id
cdef thread_id _last_tid
cdef Modes _last_modes
cdef extern from "pythread.h":
    thread_id _c_thread_ident "PyThread_get_thread_ident"() nogil

@cython.locals(last=tuple, m=Modes, ctid=thread_id)
cpdef Modes state()

@cython.locals(ctx=FunctionNode, info=OpInfo, st=Modes, u=object)
cpdef apply1(object fn, TensorBase x)

cdef object _quiet1(object fn, object ctx, object u, TensorBase x)
cdef object _quiet2(object fn, object ctx, object u, TensorBase a, TensorBase b)
cdef object _quiet3(object u, TensorBase a, TensorBase b, object cd)

@cython.locals(ctx=FunctionNode, info=OpInfo, st=Modes, u=object)
cpdef apply2(object fn, TensorBase a, TensorBase b)

@cython.locals(ctx=FunctionNode, info=OpInfo, st=Modes, u=object, cd=object, gc=bint)
cpdef apply3(object fn, TensorBase a, TensorBase b, TensorBase c)

@cython.locals(n=Py_ssize_t, i=Py_ssize_t, items=list, t=object)
cpdef _declared_saves(FunctionNode ctx, tuple saves, object a, object b, object raw)

cdef object _declared_input(FunctionNode ctx, object code, object a, object b)

@cython.locals(n=Py_ssize_t, s0=object, s1=object, saved=list, v0=long, v1=long)
cpdef _save_declared(FunctionNode ctx, tuple saves, object a, object b, TensorBase out)

cdef object _declared_item(FunctionNode ctx, object code, object a, object b, TensorBase out)

@cython.locals(t=TensorBase)
cdef long _version_of(object item)

@cython.locals(metas=tuple)
cpdef _record_out(FunctionNode ctx, object raw, TensorBase out, TensorBase a, TensorBase b)

@cython.locals(dt=object)
cpdef bint _is_float(TensorBase x)

cpdef unary(object fn, object x)

@cython.locals(dt=object)
cpdef binary(object fn, object a, object b)

@cython.locals(saved=list, versions=list, idx=Py_ssize_t, t=TensorBase)
cpdef _save(FunctionNode ctx, tuple raw, list outs)

@cython.locals(i=Py_ssize_t)
cpdef Py_ssize_t _output_index(object item, tuple raw, list outs)

cpdef list _apply_checked(Node node, list buf)

@cython.locals(need=list, changed=bint, j=Py_ssize_t, edges=tuple)
cdef object _restrict_needs(object node, object needed)
