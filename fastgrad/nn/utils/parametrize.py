"""torch.nn.utils.parametrize: a module's tensor computed, on each access, from the tensors it
was registered with (module.parametrizations.<name>.original, or original0, original1, ... when
right_inverse returns several), through a chain of parametrization modules.

register_parametrization swaps the module's class for a subclass Parametrized<Class> carrying a
property <name>: reading it runs the chain (once per `cached()` block), assigning it calls the
chain's right_inverse. remove_parametrizations undoes this."""
import collections.abc
import copyreg
from contextlib import contextmanager
from copy import deepcopy

from fastgrad._backend import engine
from fastgrad.autograd.grad_mode import no_grad
from fastgrad.nn.modules.container import ModuleDict, ModuleList
from fastgrad.nn.modules.module import Module
from fastgrad.nn.parameter import Parameter

__all__ = ["cached", "ParametrizationList", "register_parametrization", "is_parametrized",
           "remove_parametrizations", "type_before_parametrizations", "transfer_parametrizations_and_params"]

_cache_enabled = 0
_cache = {}


@contextmanager
def cached():
    """Inside this block each parametrized tensor is computed once, on its first access."""
    global _cache, _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache = {}


def _is_tensor(x):
    return isinstance(x, engine.TensorBase)


def _register_parameter_or_buffer(module, name, x):
    if isinstance(x, Parameter):
        module.register_parameter(name, x)
    else:
        module.register_buffer(name, x)


def _maybe_set(dest, src):
    """torch's dest.set_(src): dest now holds src's values (and shape), same tensor object."""
    dest._data = src._data
    dest._vc.value += 1


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, in order; holds `original` (or original0, original1, ...)."""

    def __init__(self, modules, original, unsafe=False):
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        original_shape, original_dtype = original.shape, original.dtype
        with no_grad():
            new = original
            for module in reversed(self):
                if hasattr(module, "right_inverse"):
                    try:
                        new = module.right_inverse(new)
                    except NotImplementedError:
                        pass
        if not _is_tensor(new) and not isinstance(new, collections.abc.Sequence):
            raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                             "Got %s" % type(new).__name__)
        self.is_tensor = _is_tensor(new)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if original.dtype != new.dtype:
                raise ValueError("When `right_inverse` outputs one tensor, it may not change the dtype.\n"
                                 "original.dtype: %s\nright_inverse(original).dtype: %s"
                                 % (original.dtype, new.dtype))
            with no_grad():
                _maybe_set(original, new)
            _register_parameter_or_buffer(self, "original", original)
        else:
            for i, originali in enumerate(new):
                if not _is_tensor(originali):
                    raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                                     "Got element %d of the sequence with type %s." % (i, type(originali).__name__))
                if isinstance(original, Parameter):
                    originali = Parameter(originali, original.requires_grad)
                originali.requires_grad_(original.requires_grad)
                _register_parameter_or_buffer(self, "original%d" % i, originali)
        if not self.unsafe:
            z = self()
            if not _is_tensor(z):
                raise ValueError("A parametrization must return a tensor. Got %s." % type(z).__name__)
            if z.dtype != original_dtype:
                raise ValueError("Registering a parametrization may not change the dtype of the tensor, unless "
                                 "`unsafe` flag is enabled.\nunparametrized dtype: %s\nparametrized dtype: %s"
                                 % (original_dtype, z.dtype))
            if z.shape != original_shape:
                raise ValueError("Registering a parametrization may not change the shape of the tensor, unless "
                                 "`unsafe` flag is enabled.\nunparametrized shape: %s\nparametrized shape: %s"
                                 % (original_shape, z.shape))

    def right_inverse(self, value):
        """Set the originals so that the chain gives `value` (through each module's right_inverse)."""
        with no_grad():
            for module in reversed(self):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError("parametrization %s does not implement right_inverse."
                                       % type(module).__name__)
                value = module.right_inverse(value)
            if self.is_tensor:
                if not _is_tensor(value):
                    raise ValueError("`right_inverse` should return a tensor. Got %s" % type(value).__name__)
                if value.dtype != self.original.dtype:
                    raise ValueError("The tensor returned by `right_inverse` has dtype %s while `original` has "
                                     "dtype %s" % (value.dtype, self.original.dtype))
                _maybe_set(self.original, value)
            else:
                if not isinstance(value, collections.abc.Sequence):
                    raise ValueError("'right_inverse' must return a sequence of tensors. Got %s."
                                     % type(value).__name__)
                if len(value) != self.ntensors:
                    raise ValueError("'right_inverse' must return a sequence of tensors of length %d. Got a "
                                     "sequence of length %d." % (self.ntensors, len(value)))
                for i, tensor in enumerate(value):
                    original_i = getattr(self, "original%d" % i)
                    if not _is_tensor(tensor):
                        raise ValueError("'right_inverse' must return a sequence of tensors or reference-type "
                                         "opaques. Got element %d of type %s." % (i, type(tensor).__name__))
                    if original_i.dtype != tensor.dtype:
                        raise ValueError("Tensor %d returned by `right_inverse` has dtype %s while `original%d` "
                                         "has dtype %s" % (i, tensor.dtype, i, original_i.dtype))
                    _maybe_set(original_i, tensor)

    def forward(self):
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, "original%d" % i) for i in range(self.ntensors)))
        i = 1
        while hasattr(self, str(i)):
            x = self[i](x)
            i += 1
        return x


def _inject_new_class(module):
    cls = module.__class__

    def default_deepcopy(self, memo):
        obj = memo.get(id(self), None)
        if obj is not None:
            return obj
        replica = self.__new__(self.__class__)
        memo[id(self)] = replica
        replica.__dict__ = deepcopy(self.__dict__, memo)
        for slot in copyreg._slotnames(self.__class__):
            if hasattr(self, slot):
                setattr(replica, slot, deepcopy(getattr(self, slot), memo))
        return replica

    def getstate(self):
        raise RuntimeError("Serialization of parametrized modules is only supported through state_dict(). See:\n"
                           "https://pytorch.org/tutorials/beginner/saving_loading_models.html"
                           "#saving-loading-a-general-checkpoint-for-inference-and-or-resuming-training")

    dct = {"__getstate__": getstate}
    if not hasattr(cls, "__deepcopy__"):
        dct["__deepcopy__"] = default_deepcopy
    module.__class__ = type("Parametrized%s" % cls.__name__, (cls,), dct)


def _inject_property(module, tensor_name):
    if hasattr(module, tensor_name):
        raise AssertionError("Module already has an attribute named '%s'" % tensor_name)

    def get_parametrized(self):
        parametrization = self.parametrizations[tensor_name]
        if _cache_enabled:
            key = (id(module), tensor_name)
            tensor = _cache.get(key)
            if tensor is None:
                tensor = parametrization()
                _cache[key] = tensor
            return tensor
        return parametrization()

    def set_original(self, value):
        self.parametrizations[tensor_name].right_inverse(value)

    setattr(module.__class__, tensor_name, property(get_parametrized, set_original))


def _check_same(what, y, x, tensor_name, returned):
    if x.dtype != y.dtype:
        raise ValueError("%s must have the same dtype as module.%s, unless the `unsafe` flag is enabled.\n"
                         "module.%s.dtype: %s\n%s dtype: %s" % (what, tensor_name, tensor_name, y.dtype, returned,
                                                                x.dtype))
    if x.shape != y.shape:
        raise ValueError("%s must have the same shape as module.%s, unless the `unsafe` flag is enabled.\n"
                         "module.%s.shape: %s\n%s shape: %s" % (what, tensor_name, tensor_name, y.shape, returned,
                                                                x.shape))


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Register `parametrization` on module.<tensor_name> (a parameter, a buffer, or an already
    parametrized tensor, whose chain it extends). Returns module."""
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            y = getattr(module, tensor_name)
            x = parametrization(y)
            if not _is_tensor(x):
                raise ValueError("A parametrization must return a tensor. Got %s." % type(x).__name__)
            if x.dtype != y.dtype:
                raise ValueError("Registering a parametrization may not change the dtype of the tensor, unless the "
                                 "`unsafe` flag is enabled.\nmodule.%s.dtype: %s\nparametrization(module.%s).dtype: %s"
                                 % (tensor_name, y.dtype, tensor_name, x.dtype))
            if x.shape != y.shape:
                raise ValueError("Registering a parametrization may not change the shape of the tensor, unless the "
                                 "`unsafe` flag is enabled.\nmodule.%s.shape: %s\nparametrization(module.%s).shape: %s"
                                 % (tensor_name, y.shape, tensor_name, x.shape))
            if hasattr(parametrization, "right_inverse"):
                try:
                    z = parametrization.right_inverse(x)
                except NotImplementedError:
                    pass
                else:
                    if not _is_tensor(z):
                        raise ValueError("parametrization.right_inverse must return a tensor. Got: %s"
                                         % type(z).__name__)
                    _check_same("The tensor returned by parametrization.right_inverse", y, z, tensor_name,
                                "returned")
        module.parametrizations[tensor_name].append(parametrization)
        module.parametrizations[tensor_name].unsafe |= unsafe
    elif tensor_name in module._buffers or tensor_name in module._parameters:
        original = getattr(module, tensor_name)
        parametrizations = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_new_class(module)
            module.parametrizations = ModuleDict()
        _inject_property(module, tensor_name)
        module.parametrizations[tensor_name] = parametrizations
    else:
        raise ValueError("Module '%s' does not have a parameter, a buffer, or a parametrized element with name '%s'"
                         % (module, tensor_name))
    return module


def is_parametrized(module, tensor_name=None):
    """Whether module has any parametrization (or one on tensor_name)."""
    parametrizations = getattr(module, "parametrizations", None)
    if parametrizations is None or not isinstance(parametrizations, ModuleDict):
        return False
    if tensor_name is None:
        return len(parametrizations) > 0
    return tensor_name in parametrizations


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Remove the parametrizations on module.<tensor_name>: it becomes a parameter (or buffer)
    again, holding its current parametrized value (leave_parametrized) or its original."""
    if not is_parametrized(module, tensor_name):
        raise ValueError("Module %s does not have a parametrization on %s" % (module, tensor_name))
    parametrizations = module.parametrizations[tensor_name]
    if parametrizations.is_tensor:
        original = parametrizations.original
        if leave_parametrized:
            with no_grad():
                t = getattr(module, tensor_name)
                _maybe_set(original, t)
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is "
                             "parametrized in terms of a sequence of tensors.")
        t = getattr(module, tensor_name)
        original = Parameter(t.detach()) if t.requires_grad else t
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register_parameter_or_buffer(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module


def type_before_parametrizations(module):
    """The module's class before register_parametrization swapped it."""
    if is_parametrized(module):
        return module.__class__.__bases__[0]
    return type(module)


def transfer_parametrizations_and_params(from_module, to_module, tensor_name=None):
    """Register from_module's parametrizations (all, or tensor_name's) on to_module, sharing the originals."""
    if is_parametrized(from_module):
        names = from_module.parametrizations if tensor_name is None else [tensor_name]
        for name in names:
            if not hasattr(to_module, name):
                setattr(to_module, name, Parameter(getattr(from_module, name)))
            for param_func in from_module.parametrizations[name]:
                register_parametrization(to_module, name, param_func)
            src = from_module.parametrizations[name]
            if hasattr(src, "original"):
                to_module.parametrizations[name].original = src.original
            else:
                num = 0
                while hasattr(src, "original%d" % num):
                    setattr(to_module.parametrizations[name], "original%d" % num, getattr(src, "original%d" % num))
                    num += 1
    return to_module
