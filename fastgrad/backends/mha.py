"""torch.backends.mha: the fast path switch of nn.MultiheadAttention / TransformerEncoderLayer inference."""
_fastpath = True


def get_fastpath_enabled():
    return _fastpath


def set_fastpath_enabled(value):
    global _fastpath
    _fastpath = bool(value)
