"""torch.linalg.LinAlgError: what linear-algebra ops raise when the input is singular or not
positive-definite (a RuntimeError, as torch's torch._C._LinAlgError)."""


class LinAlgError(RuntimeError):
    """Error raised by torch.linalg functions when the input matrix is singular or not positive-definite."""


LinAlgError.__module__ = "torch._C"
LinAlgError.__qualname__ = LinAlgError.__name__ = "_LinAlgError"
