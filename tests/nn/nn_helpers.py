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
