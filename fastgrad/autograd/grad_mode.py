"""Grad mode: no_grad, enable_grad, set_grad_enabled, inference_mode (thread-local)."""
import functools
import inspect

from fastgrad._backend import engine


class _GradModeBase:
    """Context manager that is also a decorator (like PyTorch's _DecoratorContextManager)."""

    _mode = None

    def __enter__(self):
        self._prev = engine.set_grad_enabled(self._mode)
        return None

    def __exit__(self, *exc):
        engine.set_grad_enabled(self._prev)
        return False

    def clone(self):
        return self.__class__()

    def __call__(self, func):
        if inspect.isgeneratorfunction(func):
            @functools.wraps(func)
            def gen_wrapper(*args, **kwargs):
                gen = func(*args, **kwargs)
                with self.clone():
                    value = next(gen)
                while True:
                    try:
                        sent = yield value
                    except GeneratorExit:
                        gen.close()
                        raise
                    with self.clone():
                        try:
                            value = gen.send(sent)
                        except StopIteration as stop:
                            return stop.value
            return gen_wrapper

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)
        return wrapper


class no_grad(_GradModeBase):  # noqa: N801
    """Disable gradient recording: ``with fastgrad.no_grad():`` or ``@fastgrad.no_grad()``."""

    _mode = False


class enable_grad(_GradModeBase):  # noqa: N801
    _mode = True


class inference_mode(_GradModeBase):  # noqa: N801
    """Same semantics as no_grad here (there is no separate inference tensor type)."""

    def __init__(self, mode=True):
        self._mode = not mode
        self._arg = mode

    def clone(self):
        return self.__class__(self._arg)


class set_grad_enabled(_GradModeBase):  # noqa: N801
    """Set grad mode on or off; works as a function, a context manager or a decorator."""

    def __init__(self, mode):
        self._mode = bool(mode)
        self._prev = engine.set_grad_enabled(self._mode)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        engine.set_grad_enabled(self._prev)
        return False

    def clone(self):
        return _SetGrad(self._mode)

    def __call__(self, func):
        engine.set_grad_enabled(self._prev)
        return super().__call__(func)


class _SetGrad(_GradModeBase):
    def __init__(self, mode):
        self._mode = mode


def is_grad_enabled():
    return engine.is_grad_enabled()


def is_inference_mode_enabled():
    return False
