"""The flag holders of torch.backends' submodules: fastgrad runs on the CPU only, so the flags only
record what a script sets (and flags() context managers restore it), as torch's CPU build does."""
import contextlib


def flag_context(module, names):
    """A torch-style flags(...) context manager over module-level attributes `names`: sets those given
    (None leaves one as it is), restores every one on exit."""
    @contextlib.contextmanager
    def flags(*args, **kwargs):
        values = dict(zip(names, args))
        values.update(kwargs)
        unknown = set(values) - set(names)
        if unknown:
            raise TypeError("flags() got an unexpected keyword argument '%s'" % sorted(unknown)[0])
        saved = {n: getattr(module, n) for n in names}
        for n, v in values.items():
            if v is not None:
                setattr(module, n, v)
        try:
            yield
        finally:
            for n, v in saved.items():
                setattr(module, n, v)
    return flags
