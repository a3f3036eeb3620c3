"""torch.stft and torch.istft, composed from the fft ops (fft.py) as torch's reference
implementation (torch/_refs) composes them: frames by unfold, windowed, transformed; the inverse
by the inverse transform, windowed, overlap-added (OverlapAdd: torch's unfold_backward) and divided
by the window's squared envelope."""
import warnings

import numpy as np

from fastgrad._ops import complex as C
from fastgrad._ops import fft as F
from fastgrad._ops.base import Op, make
from fastgrad._ops.nn_functional import pad as _pad


class OverlapAdd(Op):
    """frames (C, n_frames, n) -> (C, length): frame f added at [f * hop, f * hop + n)."""

    _half_native = True

    @staticmethod
    def forward(ctx, frames, length, hop):
        d = frames._data
        ctx.n, ctx.hop = d.shape[-1], hop
        out = np.zeros(d.shape[:-2] + (length,), d.dtype)
        n = d.shape[-1]
        for f in range(d.shape[-2]):
            out[..., f * hop:f * hop + n] += d[..., f, :]
        return out

    @staticmethod
    def backward(ctx, g):
        return g.unfold(-1, ctx.n, ctx.hop), None, None

    @staticmethod
    def jvp(ctx, t, length, hop):
        return OverlapAdd.apply(t, length, hop)


def _type_name(t):
    return "torch." + {"float32": "Float", "float64": "Double", "complex64": "ComplexFloat",
                       "complex128": "ComplexDouble"}.get(t._data.dtype.name, t._data.dtype.name) + "Tensor"


def _centre_window(window, win_length, n_fft, dtype):
    if window is None:
        window = make(np.ones(win_length, dtype))
    left = (n_fft - win_length) // 2
    return _pad(window, [left, n_fft - win_length - left])


# stft/istft: mirror images (rfft/irfft, onesided checks) as torch's own; they differ in direction
def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
         normalized=False, onesided=None, return_complex=None, align_to_window=None):
    if center and align_to_window is not None:
        raise RuntimeError("stft align_to_window should only be set when center = false")
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    win_cplx = window is not None and window._data.dtype.kind == "c"
    if return_complex is None:
        if not (input._data.dtype.kind == "c" or win_cplx):
            raise RuntimeError("stft requires the return_complex parameter be given for real inputs, and will "
                               "further require that return_complex=True in a future PyTorch release.")
        return_complex = True
    elif not return_complex:
        warnings.warn("stft with return_complex=False is deprecated. In a future pytorch release, stft will "
                      "return complex tensors for all inputs, and return_complex=False will raise an error.\n"
                      "Note: you can still call torch.view_as_real on the complex output to recover the old "
                      "return format.")
    if input._data.dtype.kind not in "fc":
        raise RuntimeError("stft expected a tensor of floating point or complex values")
    nd = input._data.ndim
    x = input
    if center:
        p = int(n_fft // 2)
        x = _pad(x.reshape((1,) * (3 - nd) + x._data.shape), [p, p], pad_mode)
        x = x.reshape(x._data.shape[3 - nd:]) if nd in (1, 2) else x

    xshape = list(x._data.shape)

    def fail(msg):
        raise RuntimeError("stft(%s%s, n_fft=%d, hop_length=%d, win_length=%d, window=%s, normalized=%d, "
                           "onesided=%s, return_complex=%d, align_to_window=%s) : %s"
                           % (_type_name(x), xshape, n_fft, hop, win,
                              "None" if window is None else "%s{%s}" % (_type_name(window), list(window._data.shape)),
                              int(bool(normalized)), "None" if onesided is None else int(bool(onesided)),
                              int(bool(return_complex)), align_to_window, msg))
    if nd not in (1, 2):
        fail("expected a 1D or 2D tensor")
    if nd == 1:
        x = x.unsqueeze(0)
    length = x._data.shape[1]
    if not 0 < n_fft <= length:
        fail("expected 0 < n_fft < %d, but got n_fft=%d" % (length, n_fft))
    if hop <= 0:
        fail("expected hop_length > 0, but got hop_length=%d" % hop)
    if not 0 < win <= n_fft:
        fail("expected 0 < win_length <= n_fft, but got win_length=%d" % win)
    if window is not None and (window._data.ndim != 1 or window._data.shape[0] != win):
        fail("expected a 1D window tensor of size equal to win_length=%d, but got window with size %s"
             % (win, list(window._data.shape)))
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied,which is known to cause "
                      "spectral leakage. Other windows such as torch.hann_window or torch.hamming_window are "
                      "recommended to reduce spectral leakage.To suppress this warning and use a rectangular window, "
                      "explicitly set `window=torch.ones(n_fft, device=<device>)`.")
    if win < n_fft:
        window = _centre_window(window, win, n_fft, x._data.dtype if x._data.dtype.kind != "c"
                                else C._REAL_OF[x._data.dtype])
    if not center and align_to_window:
        a = (n_fft - win) // 2
        x = _pad(x.unsqueeze(0), [a, a], pad_mode).squeeze(0)
    frames = x.unfold(-1, n_fft, hop)
    if window is not None:
        frames = frames * window
    cplx = frames._data.dtype.kind == "c"
    if onesided is None:
        onesided = not cplx
    norm = "ortho" if normalized else None
    if onesided:
        if cplx:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        out = F.rfft(frames, dim=-1, norm=norm)
    else:
        out = F.fft(frames, dim=-1, norm=norm)
    out = out.transpose(1, 2)
    if nd == 1:
        out = out.squeeze(0)
    return out if return_complex else C.view_as_real(out)


# the inverse of stft above (mirror-image checks, as torch's)
def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False,
          onesided=None, length=None, return_complex=False):
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if input._data.dtype.kind != "c":
        raise RuntimeError("istft requires a complex-valued input tensor matching the output from stft with "
                           "return_complex=True.")
    nd = input._data.ndim
    onesided_given = onesided

    def head():
        return ("istft(CPU%sType%s, n_fft=%d, hop_length=%d, win_length=%d, window=%s, center=%d, normalized=%d, "
                "onesided=%s, length=%s, return_complex=%d)"
                % (_type_name(input)[6:-6], list(input._data.shape), n_fft, hop, win,
                   "None" if window is None else "%s{%s}" % (_type_name(window), list(window._data.shape)),
                   int(bool(center)), int(bool(normalized)), "None" if onesided_given is None
                   else int(bool(onesided_given)),
                   "None" if length is None else length, int(bool(return_complex))))

    def fail(msg):
        raise RuntimeError("%s : %s" % (head(), msg))
    if nd < 2:
        raise IndexError("Dimension out of range (expected to be in range of [%d, %d], but got -3)"
                         % (-max(nd, 1), max(nd, 1) - 1))
    if input._data.size == 0:
        fail("input tensor cannot be empty.")
    if nd not in (2, 3):
        fail("expected a tensor with 2 or 3 dimensions of complex dtype, but got %d" % nd)
    n_frames, fft_size = input._data.shape[-1], input._data.shape[-2]
    expected = n_fft + hop * (n_frames - 1)
    if onesided is None:
        onesided = fft_size != n_fft
    if onesided:
        if n_fft // 2 + 1 != fft_size:
            fail("expected the frequency dimension (3rd to the last) of the input tensor to match n_fft / 2 + 1 "
                 "when onesided=True, but got %d" % fft_size)
    elif n_fft != fft_size:
        fail("expected the frequency dimension (3rd to the last) of the input tensor to match n_fft when "
             "onesided=False, but got %d" % fft_size)
    if not 0 < hop <= win:
        fail("expected 0 < hop_length <= win_length")
    if not 0 < win <= n_fft:
        fail("expected 0 < win_length <= n_fft")
    if window is not None and (window._data.ndim != 1 or window._data.shape[0] != win):
        fail("Invalid window shape. window has to be 1D and length of `win_length`")
    real_dt = C._REAL_OF[input._data.dtype]
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied.Please provide the same "
                      "window used by stft to make the inversion lossless.To suppress this warning and use a "
                      "rectangular window, explicitly set `window=torch.ones(n_fft, device=<device>)`.")
    w = window if window is not None else make(np.ones(win, real_dt))
    if win != n_fft:
        w = _centre_window(w, win, n_fft, real_dt)
    x = input.unsqueeze(0) if nd == 2 else input
    x = x.transpose(1, 2)
    norm = "ortho" if normalized else None
    if return_complex:
        if onesided:
            raise RuntimeError("Cannot have onesided output if window or input is complex")
        x = F.ifft(x, dim=-1, norm=norm)
    else:
        if window is not None and window._data.dtype.kind == "c":
            raise RuntimeError("Complex windows are incompatible with return_complex=False")
        if not onesided:
            x = x.narrow(-1, 0, n_fft // 2 + 1)
        x = F.irfft(x, n_fft, dim=-1, norm=norm)
    y = OverlapAdd.apply(x * w.reshape(1, 1, n_fft), expected, hop)
    w2 = (w * w).reshape(1, 1, n_fft).expand(1, n_frames, n_fft)  # torch: window.pow(2), differentiable
    env = OverlapAdd.apply(w2, expected, hop)
    start = n_fft // 2 if center else 0
    end = start + length if length is not None else expected - n_fft // 2 if center else expected
    y = y[:, start:end]
    env = env[:, start:end]
    if env._data.size and np.abs(env._data).min() < 1e-11:
        raise RuntimeError("%s window overlap add min: %g\n[ CPUBoolType{} ]" % (head(), np.abs(env._data).min()))
    y = y / env
    if nd == 2:
        y = y.squeeze(0)
    if end > expected:
        warnings.warn("The length of signal is shorter than the length parameter. Result is being padded with "
                      "zeros in the tail. Please check your center and hop_length settings")
        y = _pad(y, [0, end - expected])
    return y

