from fastgrad.utils import checkpoint, data, hooks  # noqa: F401
