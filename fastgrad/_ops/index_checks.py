"""The checks torch's index ops make on their index tensor (the dtypes each takes, with its
message; the range of the values), and the rule that a 0-d input is one element of a 1-d one."""
import functools

import numpy as np

from fastgrad._ops import shape as S
from fastgrad._ops.base import is_tensor, norm_dim, scalar_type_name


def scalar_self(fn):
    """A 0-d input is one element of a 1-d one, as torch's index and scatter ops take it (dim 0
    or -1; a 0-d index or source likewise)."""
    @functools.wraps(fn)
    def wrapper(input, dim, index, *args, **kwargs):
        if input._data.ndim:
            return fn(input, dim, index, *args, **kwargs)
        norm_dim(dim, 0)

        def one(t):
            return S.reshape(t, (1,)) if is_tensor(t) and t._data.ndim == 0 else t
        out = fn(S.reshape(input, (1,)), 0, one(index), *[one(a) for a in args],
                 **{k: one(v) for k, v in kwargs.items()})
        return S.reshape(out, ())
    return wrapper


# torch's index dtype rule per op: (dtypes taken, message for others; %s: the dtype's name)
INDEX_DTYPES = {
    "index_select": ((np.int64, np.int32), "index_select(): Expected dtype int32 or int64 for index"),
    "index_add": ((np.int64, np.int32), "index_add_(): Expected dtype int32/int64 for index but got: %s"),
    "index_fill": ((np.int64,), "index_fill_(): Expected dtype int64 for index."),
    "index_copy": ((np.int64,), "index_copy_(): Expected a long tensor for index, but got %s"),
}
GATHER_SCATTER_INDEX = (np.int64, np.int32)  # gather(), scatter*(): "Expected dtype int32/int64 for index"


def check_index(name, index, size, dim):
    """RuntimeError like PyTorch's for an index tensor of a dtype the op does not take or with
    entries outside [0, size)."""
    a = index._data if is_tensor(index) else np.asarray(index)
    taken, message = INDEX_DTYPES.get(name, (GATHER_SCATTER_INDEX, "%s(): Expected dtype int32/int64 for index"
                                                                     % name))
    if a.dtype not in taken and (a.size or name in INDEX_DTYPES):  # gather/scatter take any empty index
        raise RuntimeError(message % scalar_type_name(a.dtype) if "%s" in message else message)
    if a.size:
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi >= size:
            bad = lo if lo < 0 else hi
            raise RuntimeError("%s(): index %d is out of bounds for dimension %d with size %d"
                               % (name, bad, dim, size))
    return a

