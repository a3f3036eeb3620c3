"""fastgrad.utils.data: datasets, samplers and the DataLoader (PyTorch's torch.utils.data)."""
from fastgrad.utils.data.dataloader import DataLoader, _DatasetKind, default_collate, default_convert  # noqa: F401
from fastgrad.utils.data._utils import get_worker_info  # noqa: F401
from fastgrad.utils.data.dataset import (ConcatDataset, Dataset, IterableDataset, Subset,  # noqa: F401
                                         TensorDataset, random_split)
from fastgrad.utils.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,  # noqa: F401
                                         SubsetRandomSampler, WeightedRandomSampler)
