"""torch's argument parser's TypeError where an op's signature takes Tensors only and gets a Python
number (or any other object): torch.maximum(x, 2) raises ``maximum(): argument 'other' (position 2)
must be Tensor, not int``, where fastgrad's ops (which take numbers internally: maximum(x, 0.0) in
clamp's and logaddexp's code) computed. The check wraps the public names only -- torch.<op>,
Tensor.<op> and Tensor.<op>_ -- so the ops' own callers keep passing numbers.

A method's positions do not count self (x.maximum(2): 'other' (position 1)); an argument given by
keyword has no position (torch.maximum(x, other=2): argument 'other' must be Tensor). The ops whose
signatures also take a Number there (torch.eq(x, 2), torch.lerp(x, y, 0.5)) but want a Tensor first
get torch's "received an invalid combination of arguments" message, its signatures listed."""
import functools
import inspect

from fastgrad._ops.base import TensorBase

# op -> the names of its leading Tensor parameters (torch's names, in order)
TENSOR_ONLY = dict(
    {name: ("input", "other") for name in (
        "maximum", "minimum", "atan2", "arctan2", "nextafter", "hypot", "logaddexp", "logaddexp2", "dist", "isclose",
        "equal", "cross", "kron", "vdot", "logical_and", "logical_or", "logical_xor", "gcd", "lcm", "igamma",
        "igammac", "ldexp", "fmax", "fmin")},
    dot=("input", "tensor"), outer=("input", "vec2"), ger=("input", "vec2"), polar=("abs", "angle"),
    complex=("real", "imag"), heaviside=("input", "values"))
_OUT = ", *, Tensor out = None"
# (eq, ne, lt, le, gt, ge check it where they are defined: fastgrad/_ops/comparison.py, invalid_binary)
# op -> (the parameter that must be a Tensor: its position and name; torch's signatures, listed in its message)
TENSOR_FIRST = dict(
    {name: (0, "input", ("Tensor input, Tensor other" + _OUT, "Tensor input, Number other" + _OUT)) for name in (
        "greater", "less", "greater_equal", "less_equal", "not_equal", "copysign", "fmod")},
    clamp_min=(0, "input", ("Tensor input, Tensor min" + _OUT, "Tensor input, Number min" + _OUT)),
    clamp_max=(0, "input", ("Tensor input, Tensor max" + _OUT, "Tensor input, Number max" + _OUT)),
    rsub=(0, "input", ("Tensor input, Tensor other, *, Number alpha = 1", "Tensor input, Number other, Number alpha = 1")),
    bucketize=(1, "boundaries", ("Tensor input, Tensor boundaries, *, bool out_int32 = False, bool right = False, Tensor out = None",
                                 "Number self, Tensor boundaries, *, bool out_int32 = False, bool right = False")),
    searchsorted=(0, "sorted_sequence", tuple(
        "Tensor sorted_sequence, %s, *, bool out_int32 = False, bool right = False, str side = None, "
        "Tensor sorter = None, Tensor out = None" % a for a in ("Tensor input", "Number self"))))

def type_name(x):
    """The name torch's messages give x's type: int, NoneType, numpy.ndarray, Tensor."""
    t = type(x)
    if isinstance(x, TensorBase):
        return "Tensor"
    return t.__name__ if t.__module__ == "builtins" else "%s.%s" % (t.__module__, t.__qualname__)


def _must_be_tensor(name, params, args, kwargs, method):
    for pos, p in enumerate(params):
        if pos < method:
            continue
        if pos < len(args) + method:
            x = args[pos - method]
            if not isinstance(x, TensorBase):
                raise TypeError("%s(): argument '%s' (position %d) must be Tensor, not %s"
                                % (name, p, pos + 1 - method, type_name(x)))
        elif p in kwargs and not isinstance(kwargs[p], TensorBase):
            raise TypeError("%s(): argument '%s' must be Tensor, not %s" % (name, p, type_name(kwargs[p])))


def _got(args, kwargs):
    """torch's list of what a call got: the positional types, then the keywords last given first
    (with no positional argument each keyword ends in ", ", as torch prints them)."""
    kw = ["%s=%s" % (k, type_name(v)) for k, v in reversed(kwargs.items())]
    if not args and kw:
        return "".join(k + ", " for k in kw)
    return ", ".join([type_name(a) for a in args] + kw)


def _invalid(name, args, kwargs, signatures):
    return TypeError("%s() received an invalid combination of arguments - got (%s), but expected one of:\n%s"
                     % (name, _got(args, kwargs), "".join(" * (%s)\n" % s for s in signatures)))


def invalid_binary(name, input, other):
    """torch's TypeError for <name>(input, other) whose input is not a tensor (eq, lt, ...)."""
    return _invalid(name, (input, other), {}, TENSOR_FIRST["copysign"][2])


def tensor_only(fn, name, params, method=False):
    """fn with torch's TypeError for a non-tensor among its leading Tensor parameters."""
    @functools.wraps(fn)
    def checked(*args, **kwargs):
        _must_be_tensor(name, params, args[1:] if method else args, kwargs, 1 if method else 0)
        return fn(*args, **kwargs)
    return checked


def tensor_first(fn, name, pos, param, signatures):
    """torch.<name>(...) whose argument `param` (at pos) must be a tensor, where the others may be numbers
    (the function form only; a method's self is a tensor)."""
    @functools.wraps(fn)
    def checked(*args, **kwargs):
        x = args[pos] if len(args) > pos else kwargs.get(param)
        if not isinstance(x, TensorBase):
            raise _invalid(name, args, kwargs, signatures)
        return fn(*args, **kwargs)
    return checked


def lerp_function(fn):
    """torch.lerp(input, end, weight): input and end tensors, weight a tensor or a number."""
    sigs = ("Tensor input, Tensor end, Tensor weight, *, Tensor out = None",
            "Tensor input, Tensor end, Number weight, *, Tensor out = None")

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        vals = list(args[:3]) + [kwargs.get(k) for k in ("input", "end", "weight")[len(args):]]
        if not (isinstance(vals[0], TensorBase) and isinstance(vals[1], TensorBase)):
            raise _invalid("lerp", args, {k: v for k, v in kwargs.items() if k != "out"}, sigs)
        return fn(*args, **kwargs)
    return checked


def lerp_method(fn, name):
    """x.lerp(end, weight) / x.lerp_(...): end must be a tensor; torch's message marks each argument
    its signature refuses (the Number signature marks the weight too)."""
    @functools.wraps(fn)
    def checked(self, *args, **kwargs):
        end = args[0] if args else kwargs.get("end")
        if not isinstance(end, TensorBase) and len(args) + len(kwargs) >= 2:
            weight = args[1] if len(args) > 1 else kwargs.get("weight")
            e, w = "!%s!" % type_name(end), type_name(weight)
            marks = ("(%s, %s)" % (e, w if isinstance(weight, TensorBase) else "!%s!" % w), "(%s, !%s!)" % (e, w))
            why = "\n      didn't match because some of the arguments have invalid types: "
            raise TypeError("%s() received an invalid combination of arguments - got (%s), but expected one of:\n"
                            " * (Tensor end, Tensor weight)%s%s\n * (Tensor end, Number weight)%s%s\n"
                            % (name, _got(args, kwargs), why, marks[0], why, marks[1]))
        return fn(self, *args, **kwargs)
    return checked


def _swap(owner, attr, make):
    static = inspect.getattr_static(owner, attr, None)
    if static is None or isinstance(static, (staticmethod, classmethod, property, type)) or not callable(static):
        return
    setattr(owner, attr, make(getattr(owner, attr)))


def install(fastgrad):
    """Wrap torch.<op>, Tensor.<op> and Tensor.<op>_ for the ops above (once, from fastgrad/__init__)."""
    Tensor = fastgrad.Tensor
    for name, params in TENSOR_ONLY.items():
        _swap(fastgrad, name, lambda fn, n=name, p=params: tensor_only(fn, n, p))
        for attr in (name, name + "_"):
            _swap(Tensor, attr, lambda fn, n=attr, p=params: tensor_only(fn, n, p, method=True))
    for name, (pos, param, sigs) in TENSOR_FIRST.items():
        _swap(fastgrad, name, lambda fn, n=name, a=pos, p=param, s=sigs: tensor_first(fn, n, a, p, s))
    _swap(fastgrad, "lerp", lerp_function)
    for attr in ("lerp", "lerp_"):
        _swap(Tensor, attr, lambda fn, n=attr: lerp_method(fn, n))
