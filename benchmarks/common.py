"""What every workload module uses: seeded weights, the digits data, the timing loop, the check numbers."""
import functools
import gc
import math
import time


def make_mlp_params(sizes, seed):
    """[W1, b1, W2, b2, ...], PyTorch layout (out, in) and PyTorch's default init range."""
    import numpy as np
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / math.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return params


def load_digits(path=None):
    """The digits data (1797 x 64 in [0, 1], 10 classes); random data of that shape when
    scikit-learn is missing. The driver loads it once and passes an .npz path."""
    import numpy as np
    if path:
        f = np.load(path)
        return f["X"], f["y"]
    try:
        from sklearn.datasets import load_digits as sk_load
        ds = sk_load()
        return (ds.data / 16.0).astype(np.float32), ds.target.astype(np.int64)
    except ImportError:
        rng = np.random.default_rng(7)
        return rng.random((1797, 64), dtype=np.float32), rng.integers(0, 10, 1797).astype(np.int64)


def timed(fn, n, warmup):
    """Run fn warmup times untimed, then n times timed; (seconds per call, last result)."""
    for _ in range(warmup):
        fn()
    gc.collect()
    times, out = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def f64(a):
    """A few float64 summary numbers of a NumPy array for the correctness check."""
    import numpy as np
    a = np.asarray(a, dtype=np.float64).ravel()
    return [float(np.abs(a).mean()), *map(float, a[:3])]


def cached(data_fn):
    """A workload module's data(workload, digits_path=None), computed once per worker process."""
    return functools.lru_cache(maxsize=None)(data_fn)
