"""functional_call and stack_module_state."""


def _swap(module, name, value):
    """Set module's (dotted) attribute name to value; return the previous value."""
    *path, last = name.split(".")
    owner = module
    for part in path:
        owner = getattr(owner, part)
    old = getattr(owner, last)
    # twin of _restore: _swap/_restore: the inverse walks of functional_call
    if last in owner._parameters:
        owner._parameters[last] = value
    elif last in owner._buffers:
        owner._buffers[last] = value
    else:
        setattr(owner, last, value)
    return owner, last, old


# twin of _swap: _swap/_restore: the inverse walks of functional_call
def _restore(owner, last, old):
    if last in owner._parameters:
        owner._parameters[last] = old
    elif last in owner._buffers:
        owner._buffers[last] = old
    else:
        setattr(owner, last, old)


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """module(*args, **kwargs) with its parameters and buffers replaced by the given tensors (by
    dotted name) for the duration of the call; the module is unchanged afterwards."""
    if isinstance(parameter_and_buffer_dicts, dict):
        values = dict(parameter_and_buffer_dicts)
    else:
        values = {}
        for d in parameter_and_buffer_dicts:
            dup = set(values) & set(d)
            if dup:
                raise ValueError(f"['{sorted(dup)[0]}'] appeared in multiple dictionaries; behavior of "
                                 "functional call is ambiguous")
            values.update(d)
    known = dict(module.named_parameters(remove_duplicate=False))
    known.update(dict(module.named_buffers(remove_duplicate=False)))
    if strict:
        missing = sorted(set(known) - set(values))
        unexpected = sorted(set(values) - set(known))
        if missing or unexpected:
            msg = "Error(s) in reloading state_dict for %s:\n" % type(module).__name__
            if unexpected:
                msg += "\tUnexpected key(s): %s.\n" % ", ".join(repr(k) for k in unexpected)
            if missing:
                msg += "\tMissing key(s): %s." % ", ".join(repr(k) for k in missing)
            raise RuntimeError(msg)
    if tie_weights:  # names sharing one tensor take the value given for any of them
        by_id = {}
        for name, t in known.items():
            by_id.setdefault(id(t), []).append(name)
        for names in by_id.values():
            given = [n for n in names if n in values]
            if given:
                for n in names:
                    values.setdefault(n, values[given[0]])
    args = () if args is None else (args if isinstance(args, tuple) else (args,))
    swapped = []
    try:
        for name, value in values.items():
            swapped.append(_swap(module, name, value))
        return module(*args, **(kwargs or {}))
    finally:
        for owner, last, old in reversed(swapped):
            _restore(owner, last, old)


def stack_module_state(models):
    """(params, buffers): each name's tensors from every model stacked along a new dim 0 (params
    detached and requiring grad, as torch), for vmap over an ensemble."""
    from fastgrad import stack

    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or not any(m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    if len({type(m) for m in models}) != 1:
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    params = {name: stack([dict(m.named_parameters())[name] for m in models]).detach().requires_grad_(True)
              for name, _ in models[0].named_parameters()}
    buffers = {name: stack([dict(m.named_buffers())[name] for m in models]) for name, _ in models[0].named_buffers()}
    return params, buffers
