"""fastgrad.utils.data: datasets, samplers and the DataLoader (PyTorch's torch.utils.data)."""
from fastgrad.utils.data.dataloader import DataLoader, _DatasetKind, default_collate, default_convert  # noqa: F401
from fastgrad.utils.data._utils import get_worker_info  # noqa: F401
from fastgrad.utils.data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset,  # noqa: F401
                                         StackDataset, Subset, TensorDataset, random_split)
from fastgrad.utils.data.distributed import DistributedSampler  # noqa: F401
from fastgrad.utils.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,  # noqa: F401
                                         SubsetRandomSampler, WeightedRandomSampler)

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler",
           "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset",
           "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "default_collate", "default_convert",
           "get_worker_info", "random_split"]
