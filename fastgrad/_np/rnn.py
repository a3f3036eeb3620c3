"""Recurrent cells' pointwise kernels (NumPy twin of csrc/rnn.pxi): one LSTM / GRU time step's
gate math after its matrix products, forward and backward, each in one call.

Shapes: B rows (the batch), H hidden units. Gate blocks are laid out as PyTorch's weights are
(LSTM: i, f, g, o; GRU: r, z, n), each H columns wide.

    lstm_cell_fwd(gates, c_prev, act, c, h)
        gates (B, 4H): x W_ih^T + b_ih + h_prev W_hh^T + b_hh, the pre-activations
        act (B, 4H) <- sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)   (act may be gates itself)
        c (B, H) <- f * c_prev + i * g;   h (B, H) <- o * tanh(c);   returns h
    lstm_cell_bwd(act, c_prev, c, gh, gc, dgates, dc_prev)
        gh, gc: the gradients of h and c; dgates (B, 4H) <- the pre-activations' gradient,
        dc_prev (B, H) <- the gradient of c_prev through c;   returns dgates
    gru_cell_fwd(gx, gh, h_prev, act, h)
        gx (B, 3H): x W_ih^T + b_ih;  gh (B, 3H): h_prev W_hh^T + b_hh
        act (B, 4H) <- r, z, n, gh_n with r = sigmoid(gx_r + gh_r), z = sigmoid(gx_z + gh_z),
        n = tanh(gx_n + r * gh_n);   h (B, H) <- (h_prev - n) * z + n;   returns h
    gru_cell_bwd(act, h_prev, gy, dgx, dgh, dh_prev)
        gy: the gradient of h; dgx (B, 3H) <- the gradient of gx, dgh (B, 3H) <- the gradient
        of gh (dgx with its n block times r), dh_prev (B, H) <- gy * z (the direct term; the
        caller adds dgh @ W_hh);   returns dgx

Inputs first, outputs last; float32 or float64, one dtype; outputs C-contiguous and writeable,
not overlapping the inputs (except act over gates in lstm_cell_fwd). The formulas are
PyTorch's CPU cell's (aten/src/ATen/native/RNN.cpp), in the same order of operations.
"""
import numpy as np

from fastgrad._kernel_checks import _dtype, _no_overlap, _writeable

__all__ = ["lstm_cell_fwd", "lstm_cell_bwd", "gru_cell_fwd", "gru_cell_bwd"]


def _check(name, ins, outs, widths, inplace=()):
    """Checked inputs (made C-contiguous): 2-D arrays of one dtype, B rows each, and widths[i]
    * H columns (H from the first input's columns / widths[0])."""
    arrays = tuple(ins) + tuple(outs)
    _dtype(name, *arrays)
    a0 = arrays[0]
    if a0.ndim != 2 or a0.shape[1] % widths[0]:
        raise ValueError("%s: expected a 2-D (B, %dH) array first, got shape %s" % (name, widths[0], a0.shape))
    b, hid = a0.shape[0], a0.shape[1] // widths[0]
    for a, w in zip(arrays, widths):
        if a.shape != (b, w * hid):
            raise ValueError("%s: shape mismatch: %s" % (name, ", ".join(str(x.shape) for x in arrays)))
    for o in outs:
        _writeable(name, o)
    ins = [np.asarray(a, order="C") for a in ins]
    _no_overlap(name, outs, ins, inplace)
    return ins, hid


def _sigmoid(x, out):
    """1 / (1 + exp(-x)) into out (may be x): exp(-x) overflowing to inf gives 0, silently."""
    with np.errstate(over="ignore"):
        np.negative(x, out=out)
        np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)
    return out


def lstm_cell_fwd(gates, c_prev, act, c, h):
    (gates, c_prev), hid = _check("lstm_cell_fwd", (gates, c_prev), (act, c, h), (4, 1, 4, 1, 1), (gates,))
    cell = np.tanh(gates[:, 2 * hid:3 * hid])
    _sigmoid(gates, act)
    act[:, 2 * hid:3 * hid] = cell
    i, f, o = act[:, :hid], act[:, hid:2 * hid], act[:, 3 * hid:]
    np.multiply(f, c_prev, out=c)
    c += i * cell
    np.tanh(c, out=h)
    h *= o
    return h


def lstm_cell_bwd(act, c_prev, c, gh, gc, dgates, dc_prev):
    (act, c_prev, c, gh, gc), hid = _check("lstm_cell_bwd", (act, c_prev, c, gh, gc), (dgates, dc_prev),
                                           (4, 1, 1, 1, 1, 4, 1))
    i, f, g, o = act[:, :hid], act[:, hid:2 * hid], act[:, 2 * hid:3 * hid], act[:, 3 * hid:]
    tc = np.tanh(c)
    dc = gh * o
    dc *= 1 - tc * tc
    dc += gc
    di, df, dg, do = (dgates[:, :hid], dgates[:, hid:2 * hid], dgates[:, 2 * hid:3 * hid],
                      dgates[:, 3 * hid:])
    np.multiply(gh, tc, out=do)
    do *= o * (1 - o)
    np.multiply(dc, g, out=di)
    di *= i * (1 - i)
    np.multiply(dc, c_prev, out=df)
    df *= f * (1 - f)
    np.multiply(dc, i, out=dg)
    dg *= 1 - g * g
    np.multiply(dc, f, out=dc_prev)
    return dgates


def gru_cell_fwd(gx, gh, h_prev, act, h):
    (gx, gh, h_prev), hid = _check("gru_cell_fwd", (gx, gh, h_prev), (act, h), (3, 3, 1, 4, 1))
    rz = act[:, :2 * hid]
    np.add(gx[:, :2 * hid], gh[:, :2 * hid], out=rz)
    _sigmoid(rz, rz)
    r, z, n, ghn = act[:, :hid], act[:, hid:2 * hid], act[:, 2 * hid:3 * hid], act[:, 3 * hid:]
    ghn[...] = gh[:, 2 * hid:]
    np.multiply(ghn, r, out=n)
    n += gx[:, 2 * hid:]
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)
    h *= z
    h += n
    return h


def gru_cell_bwd(act, h_prev, gy, dgx, dgh, dh_prev):
    (act, h_prev, gy), hid = _check("gru_cell_bwd", (act, h_prev, gy), (dgx, dgh, dh_prev), (4, 1, 1, 3, 3, 1))
    r, z, n, ghn = act[:, :hid], act[:, hid:2 * hid], act[:, 2 * hid:3 * hid], act[:, 3 * hid:]
    dr, dz, dn = dgx[:, :hid], dgx[:, hid:2 * hid], dgx[:, 2 * hid:]
    np.multiply(gy, z, out=dh_prev)
    np.subtract(1, z, out=dn)
    dn *= gy
    dn *= 1 - n * n                        # the gradient of n's pre-activation
    np.subtract(h_prev, n, out=dz)
    dz *= gy
    dz *= z * (1 - z)
    np.multiply(dn, ghn, out=dr)
    dr *= r * (1 - r)
    dgh[:, :2 * hid] = dgx[:, :2 * hid]
    np.multiply(dn, r, out=dgh[:, 2 * hid:])
    return dgx
