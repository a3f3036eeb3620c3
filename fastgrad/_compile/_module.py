"""OptimizedModule: what fastgrad.compile returns for a module, as torch's: a Module holding
the original as `_orig_mod` (so its state_dict keys carry the `_orig_mod.` prefix), whose
forward is the compiled call of the original; other attributes read through to it."""
from fastgrad.nn.modules.module import Module


class OptimizedModule(Module):
    _torchdynamo_orig_callable = None

    def __init__(self, mod, compiled):
        super().__init__()
        self._orig_mod = mod  # a submodule: parameters(), state_dict() and train() reach it
        self.__dict__["_compiled"] = compiled
        self.__dict__["_torchdynamo_orig_callable"] = mod.forward
        self.training = mod.training

    def forward(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    def __getattr__(self, name):
        if name == "_orig_mod":
            return self._modules["_orig_mod"]
        return getattr(self._modules["_orig_mod"], name)

    def __repr__(self):
        return "OptimizedModule(\n  (_orig_mod): %s\n)" % repr(self._orig_mod).replace("\n", "\n  ")
