"""torch.func: function transforms built on fastgrad's tape.

grad / grad_and_value / vjp differentiate with the reverse-mode engine (create_graph=True when an
input already requires grad, so transforms nest: grad(grad(f)), jacrev(grad(f))); jvp / jacfwd use
forward mode (fastgrad.autograd.forward_ad); vmap maps func over a batch dimension by running it
once per batch element and stacking the results (same values as torch's batching rules, without
their speed); functional_call runs a module with substituted parameters and buffers."""
from fastgrad.func._functional_call import functional_call, stack_module_state  # noqa: F401
from fastgrad.func._transforms import (grad, grad_and_value, hessian, jacfwd, jacrev, jvp, linearize,  # noqa: F401
                                       vjp)
from fastgrad.func._vmap import vmap  # noqa: F401
from fastgrad.func._extras import debug_unwrap, functionalize, rearrange, replace_all_batch_norm_modules_  # noqa: F401

__all__ = ["grad", "grad_and_value", "vmap", "hessian", "jacfwd", "jacrev", "jvp", "linearize", "vjp",
           "functional_call", "stack_module_state", "rearrange", "functionalize", "debug_unwrap",
           "replace_all_batch_norm_modules_"]
