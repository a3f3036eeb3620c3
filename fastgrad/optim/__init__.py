"""fastgrad.optim: optimizers (updates in place through fused kernels) and lr schedulers."""
from fastgrad.optim.optimizer import Optimizer  # noqa: F401
from fastgrad.optim.sgd import SGD  # noqa: F401
from fastgrad.optim.adam import Adam  # noqa: F401
from fastgrad.optim.adamw import AdamW  # noqa: F401
from fastgrad.optim.rmsprop import RMSprop  # noqa: F401
from fastgrad.optim.adagrad import Adagrad  # noqa: F401
from fastgrad.optim import lr_scheduler, swa_utils  # noqa: F401,E402
from fastgrad.optim.adadelta import Adadelta  # noqa: F401,E402
from fastgrad.optim.adamax import Adamax  # noqa: F401,E402
from fastgrad.optim.nadam import NAdam  # noqa: F401,E402
from fastgrad.optim.radam import RAdam  # noqa: F401,E402
from fastgrad.optim.asgd import ASGD  # noqa: F401,E402
from fastgrad.optim.rprop import Rprop  # noqa: F401,E402
from fastgrad.optim.sparse_adam import SparseAdam  # noqa: F401,E402
from fastgrad.optim.lbfgs import LBFGS  # noqa: F401,E402
from fastgrad.optim._adafactor import Adafactor  # noqa: F401,E402
from fastgrad.optim._muon import Muon  # noqa: F401,E402

Adafactor.__module__ = "fastgrad.optim"
Muon.__module__ = "fastgrad.optim"
