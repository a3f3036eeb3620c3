"""torch.backends.nnpack: not available in fastgrad."""
import contextlib


def is_available():
    return False


def set_flags(_enabled):
    return (False,)


@contextlib.contextmanager
def flags(enabled=False):
    yield
