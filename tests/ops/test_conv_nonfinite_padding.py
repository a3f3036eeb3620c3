"""A NaN or inf weight meeting zero padding: torch's oneDNN convolution (float32 as its use_mkldnn
heuristic picks, bfloat16 on AVX-512 BW/VL/DQ CPUs; not with a 1x1 kernel, nor a grouped one on
oneDNN's gemm-based kernel) adds no padded tap, its im2col path (float64,
float32 with one small image, float16 without AVX-512 FP16) multiplies the padding (NaN * 0 = NaN);
and a NaN or inf upstream gradient meeting padding in the float32 weight gradient likewise
(fastgrad/_ops/conv_nd.py: skips_padding). Forward and both gradients against torch, same inputs."""
import numpy as np
import pytest

import fastgrad

CASES = {  # name: (nd, n, c, o, k, size, stride, padding, dilation, groups)
    "1d": (1, 2, 2, 3, 3, 5, 1, 1, 1, 1), "1d_one_image": (1, 1, 2, 3, 3, 5, 2, 1, 1, 1),
    "1d_groups": (1, 1, 2, 2, 3, 6, 1, 2, 1, 2), "1d_dilated": (1, 2, 1, 2, 2, 6, 1, 2, 2, 1),
    "2d": (2, 2, 2, 2, 3, 4, 1, 1, 1, 1), "2d_one_image": (2, 1, 2, 2, 3, 4, 2, 1, 1, 1),
    "2d_big_kernel": (2, 1, 1, 2, 4, 5, 1, 2, 1, 1), "2d_1x1": (2, 2, 2, 2, 1, 3, 1, 1, 1, 1),
    "2d_large_image": (2, 1, 8, 1, 3, 52, 1, 1, 1, 1), "2d_smaller_image": (2, 1, 7, 1, 3, 52, 1, 1, 1, 1),
    "2d_groups_2x2": (2, 2, 4, 4, 3, 5, 1, 1, 1, 2), "2d_groups_4x4": (2, 2, 8, 8, 3, 5, 1, 1, 1, 2),
    "2d_groups_1x2": (2, 1, 2, 4, 2, 5, 1, 1, 2, 2), "2d_groups_2x8": (2, 2, 4, 16, 3, 5, 1, 1, 1, 2),
    "2d_groups_5x8": (2, 2, 10, 16, 3, 5, 1, 1, 1, 2), "1d_depthwise": (1, 1, 3, 3, 3, 5, 2, 1, 2, 3),
    "1d_empty_batch": (1, 0, 2, 4, 3, 6, 1, 1, 1, 2),
    "3d": (3, 2, 1, 2, 3, 3, 1, 1, 1, 1), "3d_one_image": (3, 1, 2, 2, 2, 3, 1, 1, 1, 2),
}


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "float16"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_nonfinite_weight_meeting_padding(torch, case, dtype):
    nd, n, c, o, k, size, stride, pad, dil, groups = CASES[case]
    rng = np.random.default_rng(sorted(CASES).index(case))
    xs = rng.uniform(-2, 2, (n, c) + (size,) * nd)
    ws = rng.uniform(-1, 1, (o, c // groups) + (k,) * nd)
    ws.reshape(-1)[-1] = np.nan
    ws.reshape(-1)[0] = np.inf
    gs = None
    res = []
    for L in (fastgrad, torch):
        F = L.nn.functional
        x = L.tensor(xs, dtype=L.float32).to(getattr(L, dtype)).requires_grad_()
        w = L.tensor(ws, dtype=L.float32).to(getattr(L, dtype)).requires_grad_()
        conv = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
        y = conv(x, w, None, stride, pad, dil, groups)
        if gs is None:
            gs = rng.uniform(0.5, 1.5, tuple(y.shape))
        gy = L.tensor(gs, dtype=L.float32).to(getattr(L, dtype))
        gx, gw = L.autograd.grad(y, (x, w), gy)
        res.append([np.asarray(t.detach().double().numpy()) for t in (y, gx, gw)])
    tol = dict(rtol=2e-2, atol=2e-2) if "16" in dtype else dict(rtol=1e-4, atol=1e-4)  # (sums of 2704 terms)
    for f, t, what in zip(res[0], res[1], ("output", "input gradient", "weight gradient")):
        if what == "input gradient" and dtype == "bfloat16" and groups > 1:
            continue  # torch's oneDNN bfloat16 backward spreads one group's NaN weight over every group's input
        np.testing.assert_array_equal(np.isnan(f), np.isnan(t), err_msg=what + " NaN")
        np.testing.assert_allclose(f, t, equal_nan=True, err_msg=what, **tol)
