"""Shared helpers: copy a fastgrad module's parameters into the same PyTorch module and compare."""
import numpy as np


def copy_to_torch(torch, fg_module, th_module):
    with torch.no_grad():
        for name, p in fg_module.named_parameters():
            th_module.get_parameter(name).copy_(torch.from_numpy(p.detach().numpy().copy()))
        for name, b in fg_module.named_buffers():
            th_module.get_buffer(name).copy_(torch.from_numpy(np.array(b.numpy())))


def assert_close(a, b, rtol=1e-5, atol=1e-6):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def fg_repr(torch_obj):
    return repr(torch_obj).replace("torch.", "fastgrad.")


def _to64(torch, v, leaf=False):
    """A sample's values in float64 (floating tensors only); the input becomes a fresh leaf."""
    if isinstance(v, torch.Tensor):
        t = v.detach().double() if v.is_floating_point() else v.detach()
        return t.requires_grad_(True) if leaf else t
    if isinstance(v, (list, tuple)) and not isinstance(v, torch.Size):
        return type(v)(_to64(torch, a) for a in v)
    if isinstance(v, dict):
        return {k: _to64(torch, a) for k, a in v.items()}
    return v


def compare_grad_or_exact(torch, compare, info, s, w, fgrad, tgrad, dt):
    """An OpInfo sample's input gradient equals torch's (compare(torch, fgrad, tgrad, dt)); in float32
    it may instead be as close to the exact (float64) gradient as torch's own float32 one is (within
    float32's tolerance, or twice torch's error): on ill-conditioned samples (a norm over 2 values)
    torch's float32 kernel is itself 1e-5 off the float64 value (a 2-row batch_norm: fastgrad 1e-11
    from float64, torch 1e-5; a 2-value group_norm: both 2e-5)."""
    try:
        compare(torch, fgrad, tgrad, dt)
    except AssertionError:
        if dt != torch.float32:
            raise
        x64 = _to64(torch, s.input, leaf=True)
        o64 = info.op(x64, *_to64(torch, s.args), **_to64(torch, s.kwargs))
        o64 = o64[0] if isinstance(o64, (tuple, list)) else o64
        (g64,) = torch.autograd.grad((o64 * torch.tensor(w)).sum(), x64)
        exact, a, b = g64.numpy(), fgrad.detach().numpy().astype(float), tgrad.detach().numpy().astype(float)
        torch_err = np.nan_to_num(np.abs(b - exact), nan=0.0).max(initial=0.0)
        np.testing.assert_allclose(a, exact, rtol=1e-4, atol=max(1e-5, 2 * torch_err), equal_nan=True)
