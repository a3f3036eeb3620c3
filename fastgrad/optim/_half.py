"""SGD and Adam/AdamW steps on float16/bfloat16 parameters, as PyTorch's default (single-tensor)
CPU implementation takes them: one tensor op after another (lerp_, mul_, addcmul_, sqrt, div,
add_, addcdiv_ ...), each computed in float32 and rounded to the parameter's dtype. The fused
float32 kernels (K.sgd_step, K.adam_step) would round once per step instead, a different
(more accurate) result, and would not reproduce PyTorch's float16 pitfalls (an eps below
float16's range adds nothing, so a zero second moment gives 0/0). Same signatures as the
kernels; p and the buffers are updated in place.

Other optimizers on half parameters run their float32 kernel on float32 copies rounded back
(Optimizer._run_half)."""
import math

import numpy as np

_F32 = np.float32


class _Rounder:
    """Each PyTorch op on the half dtype: float32 arithmetic, the result rounded to dt (kept as
    float32 arrays holding dt's values)."""

    def __init__(self, dt):
        self.dt = dt

    def __call__(self, x):
        return np.asarray(x, _F32).astype(self.dt).astype(_F32)


def _f(x):
    return _F32(x)  # a Python scalar as the float32 "opmath" value PyTorch's kernel uses


def _alpha(x, dt):
    """add's alpha: PyTorch's half add kernel takes it in the tensor's dtype (rounded)."""
    return _F32(np.asarray(x, _F32).astype(dt))


_VEC_BLOCK = 32  # values per iteration of PyTorch's vectorized CPU loop (AVX2: 2 x 16 halves)


def _add(a, b, alpha, r):
    """a.add(b, alpha=alpha) on half values (float32 arrays), rounded: the vectorized loop
    computes a + alpha * b in float32; the last len % 32 values go through its scalar loop,
    in half arithmetic (alpha * b rounded first)."""
    al = _alpha(alpha, r.dt)
    out = a + al * b
    tail = out.size % _VEC_BLOCK
    if tail:
        flat = out.reshape(-1)
        flat[-tail:] = a.reshape(-1)[-tail:] + r(al * b.reshape(-1)[-tail:])
    return r(out)


def _start(p, g, maximize, weight_decay):
    """(rounder, param, gradient) in float32 with maximize and L2 weight decay applied, as SGD's and
    Adamax's first lines (grad.add(param, alpha=weight_decay), rounded to p's dtype)."""
    r = _Rounder(p.dtype)
    P = p.astype(_F32)
    d = g.astype(_F32)
    if maximize:
        d = -d
    if weight_decay != 0:
        d = _add(d, P, weight_decay, r)
    return r, P, d


def sgd_step(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step):
    """torch.optim.SGD's _single_tensor_sgd on one half parameter."""
    r, P, d = _start(p, g, maximize, weight_decay)
    if momentum != 0:
        if first_step:
            B = d.copy()  # torch.clone(grad)
        else:
            B = r(buf.astype(_F32) * _f(momentum))  # buf.mul_(momentum)
            B = _add(B, d, 1 - dampening, r)  # .add_(grad, alpha=1 - dampening)
        buf[...] = B
        d = _add(d, B, momentum, r) if nesterov else B  # grad.add(buf, alpha=momentum)
    p[...] = _add(P, d, -lr, r)  # param.add_(grad, alpha=-lr)
    return p


def _lerp(a, b, w):
    """PyTorch's lerp kernel (float32, fused multiply-add): the two-sided formula."""
    w = _f(w)
    d = (b - a).astype(np.float64)
    if abs(w) < 0.5:
        return (a + np.float64(w) * d).astype(_F32)
    return (b - d * np.float64(_F32(1) - w)).astype(_F32)


def adam_step(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, step, amsgrad, maximize, decoupled):
    """torch.optim.Adam / AdamW's _single_tensor_adam on one half parameter."""
    r, P, G = _start(p, g, maximize, 0)  # (weight decay below: AdamW's is decoupled)
    if weight_decay != 0:
        if decoupled:
            P = r(P * _f(1 - lr * weight_decay))  # param.mul_(1 - lr * weight_decay)
        else:
            G = _add(G, P, weight_decay, r)  # grad.add(param, alpha=weight_decay)
    M = r(_lerp(m.astype(_F32), G, 1 - beta1))  # exp_avg.lerp_(grad, 1 - beta1)
    V = r(v.astype(_F32) * _f(beta2))  # exp_avg_sq.mul_(beta2)
    V = r(V + _f(1 - beta2) * G * G)  # .addcmul_(grad, grad, value=1 - beta2)
    m[...] = M
    v[...] = V
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = math.sqrt(bias_correction2)
    if amsgrad:
        W = np.maximum(vmax.astype(_F32), V)  # torch.maximum(max_exp_avg_sq, exp_avg_sq, out=...)
        vmax[...] = W
    else:
        W = V
    denom = r(np.sqrt(W))  # .sqrt()
    denom = r(denom / _f(bias_correction2_sqrt))  # / bias_correction2_sqrt
    denom = r(denom + _f(eps))  # .add_(eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        p[...] = P + _f(-step_size) * (M / denom)  # param.addcdiv_(exp_avg, denom, value=-step_size)
    return p


def _adamax_step(p, g, exp_avg, exp_inf, lr, beta1, beta2, eps, weight_decay, step, maximize, foreach=False):
    """torch.optim.Adamax's _single_tensor_adamax (foreach: _multi_tensor_adamax, whose
    _foreach_mul_ takes beta2 rounded to the dtype) on one half parameter: an eps below the dtype's
    range adds nothing, so a zero gradient on the first step leaves exp_inf 0 and the update
    0 / 0 = NaN, as PyTorch's."""
    r, P, G = _start(p, g, maximize, weight_decay)
    M = r(_lerp(exp_avg.astype(_F32), G, 1 - beta1))  # exp_avg.lerp_(grad, 1 - beta1)
    b2 = _alpha(beta2, p.dtype) if foreach else _f(beta2)
    E = r(exp_inf.astype(_F32) * b2)  # exp_inf.mul_(beta2)
    N = r(np.abs(G) + _f(eps))  # grad.abs().add_(eps)
    E = np.maximum(E, N)  # torch.maximum(..., out=exp_inf)
    exp_avg[...] = M
    exp_inf[...] = E
    clr = lr / (1 - beta1 ** step)
    with np.errstate(divide="ignore", invalid="ignore"):
        p[...] = P + _f(-clr) * (M / E)  # param.addcdiv_(exp_avg, exp_inf, value=-clr)
    return p
