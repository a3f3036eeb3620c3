"""torch.autograd.graph: hooks on the tensors saved for backward (saved_tensors_hooks,
save_on_cpu, disable_saved_tensors_hooks), gradient edges, and increment_version.

Every op's saved tensors pass through fastgrad._engine's save paths; while a saved_tensors_hooks
block is open, each is replaced there by pack_hook(tensor), and backward reads it back through
unpack_hook (the hooks in force when the op ran)."""
import contextlib
from collections import namedtuple

from fastgrad._backend import engine

__all__ = ["saved_tensors_hooks", "save_on_cpu", "disable_saved_tensors_hooks", "Node", "GradientEdge",
           "get_gradient_edge", "increment_version"]

Node = engine.Node

_disabled_message = None


class saved_tensors_hooks:  # noqa: N801
    """Context manager: the tensors saved for backward inside it are stored as pack_hook(tensor)
    and read back as unpack_hook(packed)."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        if _disabled_message is not None:
            raise RuntimeError(_disabled_message)
        engine.push_saved_tensors_hooks(self.pack_hook, self.unpack_hook)

    def __exit__(self, *args):
        engine.pop_saved_tensors_hooks()


class save_on_cpu(saved_tensors_hooks):  # noqa: N801
    """Saved tensors are kept on the CPU and moved back to their device for backward (fastgrad's
    tensors are all on the CPU: they are kept as they are)."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack_to_cpu(tensor):
            return (tensor.device, tensor.cpu())

        def unpack_from_cpu(packed):
            device, tensor = packed
            return tensor.to(device, non_blocking=pin_memory)

        super().__init__(pack_to_cpu, unpack_from_cpu)


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message):
    """Inside it, opening a saved_tensors_hooks block raises RuntimeError(error_message)."""
    global _disabled_message
    previous = _disabled_message
    try:
        _disabled_message = error_message
        yield
    finally:
        _disabled_message = previous


GradientEdge = namedtuple("GradientEdge", ("node", "output_nr"))
GradientEdge.__doc__ = "The gradient edge of a tensor: the node its gradient flows into, and the input index there."


def get_gradient_edge(tensor):
    """tensor's GradientEdge: (grad_fn, output_nr), or a leaf's gradient accumulator and 0."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does not require gradients")
    node, nr = engine.grad_edge(tensor)
    return GradientEdge(node, nr)


def increment_version(tensor):
    """Bump the version counter of tensor (or of each tensor of an iterable), as an in-place change would."""
    if isinstance(tensor, engine.TensorBase):
        tensor = (tensor,)
    for t in tensor:
        t._vc.value += 1
