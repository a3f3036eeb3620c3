"""torch.nn.utils.parametrizations: orthogonal, spectral_norm and weight_norm as parametrizations
(fastgrad.nn.utils.parametrize): the module's tensor is recomputed from
parametrizations.<name>.original (original0 = g, original1 = v for weight_norm) on each access."""
from enum import Enum, auto

import numpy as np

import fastgrad
from fastgrad import linalg
from fastgrad._backend import engine
from fastgrad.autograd.grad_mode import no_grad
from fastgrad.nn import functional as F
from fastgrad.nn.modules.module import Module
from fastgrad.nn.utils import parametrize
from fastgrad.nn.utils._norm_helpers import norm_except_dim, weight_norm as _weight_norm_fn

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


def _is_orthogonal(q):
    n, k = q.size(-2), q.size(-1)
    eye = fastgrad.eye(k, dtype=q.dtype)
    eps = 10.0 * n * fastgrad.finfo(q.dtype).eps
    return fastgrad.allclose(q.mH @ q, eye, atol=eps)


def _make_orthogonal(a):
    """The Q of A's QR decomposition, its columns' signs set so that diag(R) is positive."""
    x, tau = fastgrad.geqrf(a)
    q = linalg.householder_product(x, tau)
    return q * x.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)


class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


class _Orthogonal(Module):
    def __init__(self, weight, orthogonal_map, *, use_trivialization=True):
        super().__init__()
        if weight.is_complex() and orthogonal_map == _OrthMaps.householder:
            raise ValueError("The householder parametrization does not support complex tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X):  # noqa: N803
        n, k = X.size(-2), X.size(-1)
        transposed = n < k
        if transposed:
            X = X.mT  # noqa: N806
            n, k = k, n
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            X = X.tril()  # noqa: N806
            if n != k:
                X = fastgrad.cat([X, X.new_zeros(n, n - k).expand(*X.shape[:-2], -1, -1)], dim=-1)  # noqa: N806
            A = X - X.mH  # noqa: N806
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                Q = fastgrad.matrix_exp(A)  # noqa: N806
            else:
                eye = fastgrad.eye(n, dtype=A.dtype)
                Q = linalg.solve(fastgrad.add(eye, A, alpha=-0.5), fastgrad.add(eye, A, alpha=0.5))  # noqa: N806
            if n != k:
                Q = Q[..., :k]  # noqa: N806
        else:
            A = X.tril(diagonal=-1)  # noqa: N806
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))
            Q = linalg.householder_product(A, tau)  # noqa: N806
            Q = Q * X.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)  # noqa: N806
        if hasattr(self, "base"):
            Q = self.base @ Q  # noqa: N806
        if transposed:
            Q = Q.mT  # noqa: N806
        return Q

    def right_inverse(self, Q):  # noqa: N803
        with no_grad():
            if Q.shape != self.shape:
                raise ValueError("Expected a matrix or batch of matrices of shape %s. Got a tensor of shape %s."
                                 % (self.shape, Q.shape))
            q_init = Q
            n, k = Q.size(-2), Q.size(-1)
            transpose = n < k
            if transpose:
                Q = Q.mT  # noqa: N806
                n, k = k, n
            if not hasattr(self, "base"):
                if self.orthogonal_map in (_OrthMaps.cayley, _OrthMaps.matrix_exp):
                    raise NotImplementedError("It is not possible to assign to the matrix exponential or the Cayley "
                                              "parametrizations when use_trivialization=False.")
                A, tau = fastgrad.geqrf(Q)  # noqa: N806
                a = np.array(A._data, copy=True)
                diag = np.sign(np.diagonal(a, axis1=-2, axis2=-1))
                diag = np.where(tau._data == 0.0, -diag, diag)
                idx = np.arange(min(a.shape[-2:]))
                a[..., idx, idx] = diag
                A = engine.make_tensor(a)  # noqa: N806
                return A.mT if transpose else A
            if n == k:
                Q = _make_orthogonal(Q) if not _is_orthogonal(Q) else Q.clone()  # noqa: N806
            else:
                N = fastgrad.randn(*(tuple(Q.size()[:-2]) + (n, n - k)), dtype=Q.dtype)  # noqa: N806
                Q = _make_orthogonal(fastgrad.cat([Q, N], dim=-1))  # noqa: N806
            self.base = Q
            neg_id = np.zeros(q_init.shape, q_init._data.dtype)
            idx = np.arange(min(neg_id.shape[-2:]))
            neg_id[..., idx, idx] = -1.0
            return engine.make_tensor(neg_id)


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Parametrize module.<name> (a matrix or batch of matrices) as an orthogonal (unitary) one."""
    weight = getattr(module, name, None)
    if not isinstance(weight, engine.TensorBase):
        raise ValueError("Module '%s' has no parameter or buffer with name '%s'" % (module, name))
    if weight.ndim < 2:
        raise ValueError("Expected a matrix or batch of matrices. Got a tensor of %d dimensions." % weight.ndim)
    if orthogonal_map is None:
        orthogonal_map = ("matrix_exp" if weight.size(-2) == weight.size(-1) or weight.is_complex()
                          else "householder")
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", "householder". Got: %s'
                         % orthogonal_map)
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        if dim is None:
            dim = -1
        self.dim = dim

    def forward(self, weight_g, weight_v):
        return _weight_norm_fn(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Parametrize module.<name> as g * v / ||v|| (original0 = g, original1 = v); dim=None: one norm."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def _weight_norm_compat_hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                 error_msgs):
        g_key, v_key = "%s%s_g" % (prefix, name), "%s%s_v" % (prefix, name)
        if g_key in state_dict and v_key in state_dict:
            original0 = state_dict.pop(g_key)
            original1 = state_dict.pop(v_key)
            state_dict["%sparametrizations.%s.original0" % (prefix, name)] = original0
            state_dict["%sparametrizations.%s.original1" % (prefix, name)] = original1

    module._register_load_state_dict_pre_hook(_weight_norm_compat_hook)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError("Dimension out of range (expected to be in range of [-%d, %d] but got %d)"
                             % (ndim, ndim - 1, dim))
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got n_power_iterations=%d"
                             % n_power_iterations)
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = self._reshape_weight_to_matrix(weight)
            h, w = weight_mat.size()
            u = weight_mat.new_empty(h).normal_(0, 1)
            v = weight_mat.new_empty(w).normal_(0, 1)
            self.register_buffer("_u", F.normalize(u, dim=0, eps=self.eps))
            self.register_buffer("_v", F.normalize(v, dim=0, eps=self.eps))
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight):
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.dim()) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, weight_mat, n_power_iterations):
        with no_grad():
            for _ in range(n_power_iterations):
                self._u = F.normalize(fastgrad.mv(weight_mat, self._v), dim=0, eps=self.eps, out=self._u)
                self._v = F.normalize(fastgrad.mv(weight_mat.mH, self._u), dim=0, eps=self.eps, out=self._v)

    def forward(self, weight):
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u = self._u.clone()
        v = self._v.clone()
        sigma = fastgrad.vdot(u, fastgrad.mv(weight_mat, v))
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Parametrize module.<name> as W / sigma(W), sigma estimated by power iteration (buffers _u, _v)."""
    from fastgrad import nn

    weight = getattr(module, name, None)
    if not isinstance(weight, engine.TensorBase):
        raise ValueError("Module '%s' has no parameter or buffer with name '%s'" % (module, name))
    if dim is None:
        dim = 1 if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
