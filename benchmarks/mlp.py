"""The MLP the W1-W3 workloads train, in each library: PyTorch-API (torch or fastgrad), hand NumPy, HIPS autograd."""


def lib_mlp(lib, params, act):
    layers = []
    for i in range(0, len(params), 2):
        W, b = params[i], params[i + 1]
        lin = lib.nn.Linear(W.shape[1], W.shape[0])
        with lib.no_grad():
            lin.weight.copy_(lib.from_numpy(W))
            lin.bias.copy_(lib.from_numpy(b))
        layers.append(lin)
        if i + 2 < len(params):
            layers.append(act())
    return lib.nn.Sequential(*layers)


def np_mlp_step(params, x, y, act, loss_kind, lr):
    """One SGD step of an MLP (params updated in place); returns the loss before the step."""
    import numpy as np
    n_layers = len(params) // 2
    hs, zs = [x], []                           # layer inputs, pre-activations
    for i in range(n_layers):
        z = hs[-1] @ params[2 * i].T
        z += params[2 * i + 1]
        if i < n_layers - 1:
            zs.append(z)
            hs.append(np.maximum(z, 0) if act == "relu" else np.tanh(z))
    if loss_kind == "mse_sum":
        diff = z - y
        loss = float(np.sum(diff * diff))
        g = 2 * diff
    else:                                      # cross-entropy, mean over the batch
        B = z.shape[0]
        z = z - z.max(axis=1, keepdims=True)
        ez = np.exp(z)
        se = ez.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(se[:, 0]) - z[np.arange(B), y]))
        g = ez / se
        g[np.arange(B), y] -= 1
        g /= B
    for i in reversed(range(n_layers)):
        W, b = params[2 * i], params[2 * i + 1]
        gW, gb = g.T @ hs[i], g.sum(axis=0)
        if i > 0:
            g = g @ W
            g *= (zs[i - 1] > 0) if act == "relu" else (1 - hs[i] * hs[i])
        W -= lr * gW
        b -= lr * gb
    return loss


def ag_mlp_loss(params, x, y, act, loss_kind):
    import autograd.numpy as anp
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = anp.dot(h, params[2 * i].T) + params[2 * i + 1]
        if i < n_layers - 1:
            h = anp.maximum(h, 0) if act == "relu" else anp.tanh(h)
    if loss_kind == "mse_sum":
        return anp.sum((h - y) ** 2)
    z = h - anp.max(h, axis=1, keepdims=True)
    lse = anp.log(anp.sum(anp.exp(z), axis=1))
    return anp.mean(lse - z[anp.arange(z.shape[0]), y])


def ag_sgd_stepper(x, y, act, loss_kind, lr):
    from autograd import value_and_grad
    vg = value_and_grad(lambda ps: ag_mlp_loss(ps, x, y, act, loss_kind))

    def step(params):
        loss, grads = vg(params)
        for p, g in zip(params, grads):
            p -= lr * g
        return float(loss)

    return step
