"""L-BFGS (torch.optim.LBFGS), optionally with the strong-Wolfe line search.

The algorithm runs on NumPy arrays (flat vectors of all parameters) with NumPy scalars where
torch holds 0-d tensors: under NumPy 2's promotion rules a float32 scalar combined with a Python
float stays float32, as a 0-d torch tensor does, so the arithmetic follows torch's step by step.
Between steps the state holds fastgrad tensors under torch's keys ('func_evals', 'n_iter', 'd',
't', 'old_dirs', 'old_stps', 'ro', 'H_diag', 'prev_flat_grad', 'prev_loss', 'al') on the first
parameter, so state_dict() has torch's structure."""
import numpy as np

from fastgrad._backend import K, engine
from fastgrad._quiet import NP_QUIET, quiet_reset, quiet_set
from fastgrad.autograd.grad_mode import enable_grad
from fastgrad.optim.optimizer import Optimizer, _check_tensor_lr, _to_scalar

__all__ = ["LBFGS"]


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    # ported from https://github.com/torch/optim/blob/master/polyinterp.lua (via torch.optim.lbfgs)
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    # ported from https://github.com/torch/optim/blob/master/lswolfe.lua (via torch.optim.lbfgs)
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:  # bracketing phase
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)  # interpolate
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:  # reached max number of iterations
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom phase: a point satisfying the criteria, or a point close enough to the bracket's ends
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:  # line-search bracket is so small
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # test that we are making sufficient progress
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos] = t
            bracket_f[high_pos] = f_new
            bracket_g[high_pos] = g_new.copy()
            bracket_gtd[high_pos] = gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:  # Wolfe conditions satisfied
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:  # old high becomes new low
                bracket[high_pos] = bracket[low_pos]
                bracket_f[high_pos] = bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos] = t  # new point becomes new low
            bracket_f[low_pos] = f_new
            bracket_g[low_pos] = g_new.copy()
            bracket_gtd[low_pos] = gtd_new
    t = bracket[low_pos]
    return bracket_f[low_pos], bracket_g[low_pos], t, ls_func_evals


def _dot(a, b):
    """a . b of two flat vectors of one dtype, as a NumPy scalar of it: one product through
    K.mm, which runs it on one BLAS thread (np.dot's OpenBLAS ddot runs vectors of over 10000
    elements on all its threads: on 2 busy cores ~1000x slower, 14.5 s of LBFGS's own time in
    2 steps on 32k parameters, benchmarks/NOTES.md)."""
    return K.mm(a[None], b[:, None])[0, 0]


def _add_(a, b, alpha):
    """a += alpha * b in place, as torch's a.add_(b, alpha=alpha): one rounding (a fused
    multiply-add). float32 gets it exactly through float64; float64 rounds twice (<= 1 ulp)."""
    if a.dtype == np.float32:
        np.copyto(a, a.astype(np.float64) + float(np.float32(alpha)) * b.astype(np.float64), casting="same_kind")
    else:
        a += alpha * b


def _to_np(value):
    """State as stored (tensors, lists of them) -> the arrays and NumPy scalars step() works on."""
    if isinstance(value, engine.TensorBase):
        a = value._data
        return a[()] if a.ndim == 0 else a
    if isinstance(value, list):
        return [_to_np(v) for v in value]
    return value


def _to_tensor(value):
    """The inverse of _to_np: arrays and NumPy scalars become tensors (torch keeps 0-d tensors)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return engine.make_tensor(np.asarray(value))
    if isinstance(value, list):
        return [_to_tensor(v) for v in value]
    return value


class LBFGS(Optimizer):
    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._numel_cache = None

    def _numel(self):
        if self._numel_cache is None:
            self._numel_cache = sum(2 * p.numel() if p.is_complex() else p.numel() for p in self._params)
        return self._numel_cache

    def _gather_flat_grad(self):
        views = []
        for p in self._params:
            a = p._data
            if p._grad is None:
                view = np.zeros(a.size, a.dtype)
            else:
                view = p._grad._data.reshape(-1)
            if view.dtype.kind == "c":
                view = np.ascontiguousarray(view).view(view.real.dtype)
            views.append(view)
        return np.concatenate(views, 0)

    def _add_grad(self, step_size, update):
        offset = 0
        for p in self._params:
            a = p._data
            numel = 2 * a.size if a.dtype.kind == "c" else a.size
            seg = update[offset:offset + numel]
            if a.dtype.kind == "c":
                seg = np.ascontiguousarray(seg).view(a.dtype)
            if a.dtype.kind == "c":
                a += step_size * seg.reshape(a.shape)
            else:
                _add_(a, seg.reshape(a.shape), step_size)
            p._vc.value += 1
            offset += numel
        if offset != self._numel():
            raise AssertionError(f"Expected offset {offset} to equal {self._numel()}")

    def _clone_param(self):
        return [p._data.copy() for p in self._params]

    def _set_param(self, params_data):
        for p, pdata in zip(self._params, params_data, strict=True):
            np.copyto(p._data, pdata)
            p._vc.value += 1

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    def step(self, closure):
        """One optimization step: up to max_iter L-BFGS iterations, each calling closure()
        (which reevaluates the model and returns the loss) with gradients enabled."""
        if len(self.param_groups) != 1:
            raise AssertionError(f"Expected exactly one param_group, but got {len(self.param_groups)}")
        st = engine.state()
        prev, st.grad_enabled = st.grad_enabled, False
        tok = quiet_set(NP_QUIET)  # inf and NaN update silently, as PyTorch's (fastgrad/_quiet.py)
        try:
            return self._step(closure)
        finally:
            quiet_reset(tok)
            st.grad_enabled = prev

    def _step(self, user_closure):
        def closure():
            with enable_grad():
                return user_closure()

        group = self.param_groups[0]
        lr = _to_scalar(group["lr"])
        max_iter = group["max_iter"]
        max_eval = group["max_eval"]
        tolerance_grad = group["tolerance_grad"]
        tolerance_change = group["tolerance_change"]
        line_search_fn = group["line_search_fn"]
        history_size = group["history_size"]

        # NOTE: LBFGS has only global state, but we register it as state for the first param
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()  # evaluate initial f(x) and df/dx
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1

        flat_grad = self._gather_flat_grad()
        opt_cond = np.abs(flat_grad).max() <= tolerance_grad
        if opt_cond:  # optimal condition
            return orig_loss

        # tensors cached in state (for tracing)
        d = _to_np(state.get("d"))
        t = _to_np(state.get("t"))
        old_dirs = _to_np(state.get("old_dirs"))
        old_stps = _to_np(state.get("old_stps"))
        ro = _to_np(state.get("ro"))
        H_diag = _to_np(state.get("H_diag"))
        prev_flat_grad = _to_np(state.get("prev_flat_grad"))
        prev_loss = state.get("prev_loss")
        al = None

        n_iter = 0
        while n_iter < max_iter:  # optimize for a max of max_iter iterations
            n_iter += 1
            state["n_iter"] += 1

            # compute gradient descent direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                # do lbfgs update (update memory)
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = _dot(y, s)  # y*s
                if ys > 1e-10:
                    if len(old_dirs) == history_size:  # updating memory: shift history by one (limited-memory)
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)  # store new direction/step
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / _dot(y, y)  # update scale of initial Hessian approximation: (y*y)

                # compute the approximate (L-BFGS) inverse Hessian multiplied by the gradient
                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                if al is None:
                    al = _to_np(state["al"])

                # iteration in L-BFGS loop collapsed to use just one buffer
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = _dot(old_stps[i], q) * ro[i]
                    _add_(q, old_dirs[i], -al[i])

                # multiply by initial Hessian; r/d is the final direction
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = _dot(old_dirs[i], r) * ro[i]
                    _add_(r, old_stps[i], al[i] - be_i)

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                np.copyto(prev_flat_grad, flat_grad)
            prev_loss = loss

            # compute step length: reset initial guess for step size
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr
            else:
                t = lr

            gtd = _dot(flat_grad, d)  # directional derivative g * d
            if gtd > -tolerance_change:  # directional derivative is below tolerance
                break

            # optional line search: user function
            ls_func_evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":  # perform line search, using user function
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x_init = self._clone_param()

                def obj_func(x, t, d):
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(obj_func, x_init, t, d, loss, flat_grad, gtd,
                                                                  max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)  # no line search, simply move with fixed step
                if n_iter != max_iter:
                    # re-evaluate function only if not in last iteration: in a stochastic setting
                    # there is no use re-evaluating that function here
                    loss = float(closure())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1

            # update func eval
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # check conditions
            if n_iter == max_iter:
                break
            if current_evals >= max_eval:
                break
            if opt_cond:  # optimal condition
                break
            if np.abs(d * t).max() <= tolerance_change:  # lack of progress
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        if al is not None:
            state["al"] = _to_tensor(al)
        state["d"] = _to_tensor(d)
        state["t"] = _to_tensor(t)
        state["old_dirs"] = _to_tensor(old_dirs)
        state["old_stps"] = _to_tensor(old_stps)
        state["ro"] = _to_tensor(ro)
        state["H_diag"] = _to_tensor(H_diag)
        state["prev_flat_grad"] = _to_tensor(prev_flat_grad)
        state["prev_loss"] = prev_loss
        return orig_loss
