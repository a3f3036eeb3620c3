from fastgrad.utils import data  # noqa: F401
