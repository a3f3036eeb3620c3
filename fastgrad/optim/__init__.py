"""fastgrad.optim: optimizers (updates in place through fused kernels) and lr schedulers."""
from fastgrad.optim.optimizer import Optimizer  # noqa: F401
from fastgrad.optim.sgd import SGD  # noqa: F401
from fastgrad.optim.adam import Adam  # noqa: F401
from fastgrad.optim.adamw import AdamW  # noqa: F401
from fastgrad.optim.rmsprop import RMSprop  # noqa: F401
from fastgrad.optim.adagrad import Adagrad  # noqa: F401
from fastgrad.optim import lr_scheduler  # noqa: F401,E402
