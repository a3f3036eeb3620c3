"""fastgrad.utils.tensorboard: PyTorch's SummaryWriter, writing real event files through the
``tensorboard`` package (pip install tensorboard)."""
try:
    import tensorboard
except ImportError as e:
    raise ImportError("fastgrad.utils.tensorboard (torch.utils.tensorboard) needs the tensorboard package: "
                      "pip install tensorboard") from e

if tuple(int(p) for p in getattr(tensorboard, "__version__", "0").split(".")[:2] if p.isdigit()) < (1, 15):
    raise ImportError("TensorBoard logging requires TensorBoard version 1.15 or above")

del tensorboard

from fastgrad.utils.tensorboard.writer import FileWriter, SummaryWriter  # noqa: E402
from tensorboard.summary.writer.record_writer import RecordWriter  # noqa: E402

__all__ = ["FileWriter", "RecordWriter", "SummaryWriter"]
