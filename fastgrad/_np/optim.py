"""Optimizer steps, in place (twin of csrc/optim.pxi).

The conventions of every kernel are in fastgrad/_kernels_np.py's docstring."""
import math

import numpy as np

from fastgrad._kernel_checks import _floats, _shares, _state

__all__ = ["adagrad_step", "adam_step", "rmsprop_step", "sgd_foreach", "sgd_step"]


# --------------------------------------------------------------------------- optimizers
def _lerp_(a, b, weight):
    """a = lerp(a, b, weight) in place, with PyTorch's two-sided formula."""
    if abs(weight) < 0.5:
        a += weight * (b - a)
    else:
        np.subtract(b, (b - a) * (1 - weight), out=a)


def sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step):
    """torch.optim.SGD, one tensor: buf is the momentum buffer (None when momentum == 0)."""
    g = _state("sgd_step", p, g, [("buf", buf, momentum != 0)])
    lr, momentum, dampening, weight_decay = _floats(lr, momentum, dampening, weight_decay)
    nesterov, maximize, first_step = bool(nesterov), bool(maximize), bool(first_step)  # as C's bint
    d = -g if maximize else g
    if weight_decay != 0:
        d = d + weight_decay * p
    if momentum != 0:
        if first_step:
            np.copyto(buf, d)
        else:
            buf *= momentum
            buf += (1 - dampening) * d
        d = d + momentum * buf if nesterov else buf
    p -= lr * d
    return p


def sgd_foreach(ps, gs, bufs, lr, momentum, dampening, weight_decay, nesterov, maximize, firsts):
    """sgd_step over a parameter group: updates the parameters whose arrays are as the
    compiled loop needs them and returns the indices of the others (see _C.sgd_foreach)."""
    if len(gs) != len(ps):
        raise ValueError("sgd_foreach: %d parameters but %d gradients" % (len(ps), len(gs)))
    if momentum != 0 and (len(bufs) != len(ps) or len(firsts) != len(ps)):
        raise ValueError("sgd_foreach: bufs and firsts must have one entry per parameter")
    rest = []
    for i in range(len(ps)):
        p, g = ps[i], gs[i]
        buf = bufs[i] if momentum != 0 else None
        if not _plain_state(p, g, () if buf is None else (buf,)):
            rest.append(i)
            continue
        sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize,
                 firsts[i] if momentum != 0 else False)
    return rest


def _plain_state(p, g, buffers):
    """The compiled fast case of an optimizer step: float32/64 C-contiguous writeable p,
    and g and buffers of p's dtype and shape, C-contiguous, none sharing memory."""
    arrays = (p, g) + tuple(buffers)
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != p.dtype or a.shape != p.shape or not a.flags.c_contiguous:
            return False
    if p.dtype not in (np.float32, np.float64) or not p.flags.writeable:
        return False
    for b in buffers:
        if not b.flags.writeable:
            return False
    return not any(_shares(a, b) for i, a in enumerate(arrays) for b in arrays[i + 1:])


def adam_step(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, amsgrad, maximize,
              decoupled):
    """torch.optim.Adam (decoupled=False) / AdamW (decoupled=True), one tensor; `step` is
    the 1-based step count; vmax is the amsgrad buffer (None unless amsgrad)."""
    g = _state("adam_step", p, g, [("m", m, True), ("v", v, True), ("vmax", vmax, bool(amsgrad))])
    lr, beta1, beta2, weight_decay, step, eps = _floats(lr, beta1, beta2, weight_decay, step, eps)
    amsgrad, maximize, decoupled = bool(amsgrad), bool(maximize), bool(decoupled)  # as C's bint
    if maximize:
        g = -g
    # twin of optim/radam.py _radam_step: the NumPy backend's copy of a compiled kernel
    if weight_decay != 0:
        if decoupled:
            p *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * p
    _lerp_(m, g, 1 - beta1)
    v *= beta2
    v += (1 - beta2) * g * g
    bc1 = 1 - beta1 ** step
    bc2_sqrt = math.sqrt(1 - beta2 ** step)
    step_size = lr / bc1
    if amsgrad:
        np.maximum(vmax, v, out=vmax)
        denom = np.sqrt(vmax)
    else:
        denom = np.sqrt(v)
    denom /= bc2_sqrt
    denom += eps
    p += -step_size * m / denom
    return p


def rmsprop_step(p, g, square_avg, grad_avg, momentum_buf, lr, alpha, eps, weight_decay,
                 momentum, centered, maximize):
    """torch.optim.RMSprop, one tensor; grad_avg is needed when centered, momentum_buf
    when momentum > 0 (both None otherwise)."""
    g = _state("rmsprop_step", p, g, [("square_avg", square_avg, True),
                                      ("grad_avg", grad_avg, bool(centered)),
                                      ("momentum_buf", momentum_buf, momentum > 0)])
    lr, alpha, eps, weight_decay, momentum = _floats(lr, alpha, eps, weight_decay, momentum)
    centered, maximize = bool(centered), bool(maximize)  # as C's bint
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    square_avg *= alpha
    square_avg += (1 - alpha) * g * g
    if centered:
        _lerp_(grad_avg, g, 1 - alpha)
        avg = np.sqrt(square_avg + -1 * grad_avg * grad_avg)
    else:
        avg = np.sqrt(square_avg)
    avg += eps
    if momentum > 0:
        momentum_buf *= momentum
        momentum_buf += g / avg
        p += -lr * momentum_buf
    else:
        p += -lr * g / avg
    return p


def adagrad_step(p, g, state_sum, lr, lr_decay, weight_decay, eps, step, maximize):
    """torch.optim.Adagrad (dense), one tensor; `step` is the 1-based step count."""
    g = _state("adagrad_step", p, g, [("state_sum", state_sum, True)])
    lr, lr_decay, weight_decay, eps, step = _floats(lr, lr_decay, weight_decay, eps, step)
    maximize = bool(maximize)  # as C's bint
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    clr = lr / (1 + (step - 1) * lr_decay)
    state_sum += g * g
    std = np.sqrt(state_sum)
    std += eps
    p += -clr * g / std
    return p
