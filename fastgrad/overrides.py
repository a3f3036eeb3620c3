"""torch.overrides: the __torch_function__ protocol's helpers. fastgrad's ops do not dispatch on
__torch_function__; these answer for objects that define it and let such objects be called
through their own __torch_function__ (handle_torch_function)."""
import functools

from fastgrad._backend import engine

__all__ = ["get_ignored_functions", "get_overridable_functions", "get_testing_overrides", "handle_torch_function",
           "has_torch_function", "resolve_name", "is_tensor_like", "is_tensor_method_or_property",
           "wrap_torch_function", "has_torch_function_unary", "has_torch_function_variadic"]


def _overrides(obj):
    tf = getattr(type(obj), "__torch_function__", None)
    base = getattr(engine.TensorBase, "__torch_function__", None)
    return tf is not None and tf is not base and not isinstance(obj, type)


def is_tensor_like(inp):
    """A fastgrad Tensor, or an object whose type defines __torch_function__."""
    return isinstance(inp, engine.TensorBase) or getattr(type(inp), "__torch_function__", None) is not None


def has_torch_function(relevant_args):
    """Whether any of the arguments overrides __torch_function__."""
    return any(_overrides(a) for a in relevant_args)


def has_torch_function_unary(obj):
    return _overrides(obj)


def has_torch_function_variadic(*args):
    return has_torch_function(args)


def handle_torch_function(public_api, relevant_args, *args, **kwargs):
    """Call the __torch_function__ of the overriding arguments (subclasses first) until one does
    not return NotImplemented."""
    overloaded = []
    for a in relevant_args:
        if _overrides(a) and type(a) not in [type(o) for o in overloaded]:
            pos = next((i for i, o in enumerate(overloaded) if issubclass(type(a), type(o))), len(overloaded))
            overloaded.insert(pos, a)
    types = tuple(type(a) for a in overloaded)
    for a in overloaded:
        result = type(a).__torch_function__(public_api, types, args, kwargs)
        if result is not NotImplemented:
            return result
    raise TypeError("no implementation found for '%s' on types that implement __torch_function__: %s"
                    % (resolve_name(public_api) or public_api, [type(a) for a in overloaded]))


def wrap_torch_function(dispatcher):
    """Decorator: calls go to handle_torch_function when dispatcher(*args, **kwargs) names an overriding argument."""
    def inner(func):
        @functools.wraps(func)
        def wrapped(*args, **kwargs):
            relevant = dispatcher(*args, **kwargs)
            if has_torch_function(relevant):
                return handle_torch_function(wrapped, relevant, *args, **kwargs)
            return func(*args, **kwargs)
        return wrapped
    return inner


def resolve_name(f):
    """'torch.<name>' for a fastgrad function, or None."""
    import fastgrad

    name = getattr(f, "__name__", None)
    if name is not None and getattr(fastgrad, name, None) is f:
        return "torch." + name
    if name is not None and getattr(fastgrad.Tensor, name, None) is f:
        return "torch.Tensor." + name
    return None


def is_tensor_method_or_property(func):
    import fastgrad

    name = getattr(func, "__name__", None)
    return name is not None and getattr(fastgrad.Tensor, name, None) is func


def get_ignored_functions():
    return set()


def get_overridable_functions():
    """{namespace: [functions]} of fastgrad's public torch-level and Tensor functions."""
    import fastgrad

    fns = [getattr(fastgrad, n) for n in dir(fastgrad) if not n.startswith("_") and callable(getattr(fastgrad, n))
           and not isinstance(getattr(fastgrad, n), type)]
    meths = [getattr(fastgrad.Tensor, n) for n in dir(fastgrad.Tensor) if not n.startswith("_")
             and callable(getattr(fastgrad.Tensor, n, None))]
    return {fastgrad: fns, fastgrad.Tensor: meths}


def get_testing_overrides():
    """{function: a lambda with its arguments returning -1} for fastgrad's torch-level functions."""
    import fastgrad

    return {f: (lambda *args, **kwargs: -1) for f in get_overridable_functions()[fastgrad]}
