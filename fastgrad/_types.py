"""The small value types every layer uses: Size, device, the CPU check, the legacy type names.

Nothing here imports another fastgrad module, so ops, creation functions and the Tensor
class can all depend on it without an import circle."""

_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor",
               "uint8": "ByteTensor", "bool": "BoolTensor", "complex64": "ComplexFloatTensor",
               "complex128": "ComplexDoubleTensor",
               "bfloat16": "BFloat16Tensor", "uint16": "UInt16Tensor", "uint32": "UInt32Tensor",
               "uint64": "UInt64Tensor"}


class Size(tuple):
    """Tensor shape: a tuple (like torch.Size)."""

    def __repr__(self):
        return "fastgrad.Size([%s])" % ", ".join(str(s) for s in self)

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))


class device:  # noqa: N801
    """Only the CPU exists here; asking for CUDA raises a clear error."""

    def __init__(self, type="cpu", index=None):  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index
        name = str(type)
        if ":" in name:
            name, idx = name.split(":", 1)
            index = int(idx)
        if name not in ("cpu", "cuda", "mps", "meta"):
            raise RuntimeError("Expected one of cpu, cuda, mps device type at start of device string: %s" % type)
        self.type = name
        self.index = index

    def __repr__(self):
        return "device(type='%s'%s)" % (self.type, "" if self.index is None else ", index=%d" % self.index)

    def __str__(self):
        return self.type if self.index is None else "%s:%d" % (self.type, self.index)

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))


CPU = device("cpu")


def check_device(dev):
    """Accept None / 'cpu' / device('cpu'); anything else is a clear error."""
    if dev is None:
        return CPU
    if isinstance(dev, int):
        dev = device("cuda", dev)
    d = dev if isinstance(dev, device) else device(dev)
    if d.type != "cpu":
        raise RuntimeError("fastgrad runs on the CPU only: device '%s' is not available "
                           "(fastgrad.cuda.is_available() is False)" % d)
    return CPU
