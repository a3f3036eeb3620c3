"""Fetchers (torch.utils.data._utils.fetch): one batch (or sample) from the dataset for an index (or a list
of indices), in the main process or a worker."""
import numpy as np

from fastgrad._backend import engine


class _BaseDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last

    def fetch(self, possibly_batched_index):
        raise NotImplementedError


class _IterableDatasetFetcher(_BaseDatasetFetcher):
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        super().__init__(dataset, auto_collation, collate_fn, drop_last)
        self.dataset_iter = iter(dataset)
        self.ended = False

    def fetch(self, possibly_batched_index):
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in possibly_batched_index:
                try:
                    data.append(next(self.dataset_iter))
                except StopIteration:
                    self.ended = True
                    break
            if len(data) == 0 or (self.drop_last and len(data) < len(possibly_batched_index)):
                raise StopIteration
        else:
            data = next(self.dataset_iter)
        return self.collate_fn(data)


class _MapDatasetFetcher(_BaseDatasetFetcher):
    def fetch(self, possibly_batched_index):
        if self.auto_collation:
            if hasattr(self.dataset, "__getitems__") and self.dataset.__getitems__:
                data = self.dataset.__getitems__(possibly_batched_index)
            else:
                data = [self.dataset[idx] for idx in possibly_batched_index]
        else:
            data = self.dataset[possibly_batched_index]
        return self.collate_fn(data)


def _is_default_collate(fn):
    return getattr(fn, "__module__", None) == "fastgrad.utils.data._utils.collate" and \
        getattr(fn, "__name__", None) == "default_collate"  # (by name: collate imports worker imports fetch)


class _DatasetKind:
    Map = 0
    Iterable = 1

    @staticmethod
    def create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last):
        from fastgrad.utils.data.dataset import TensorDataset

        if kind == _DatasetKind.Map:
            if type(dataset) is TensorDataset and _is_default_collate(collate_fn) and auto_collation:
                return _TensorDatasetFetcher(dataset, auto_collation, collate_fn, drop_last)
            return _MapDatasetFetcher(dataset, auto_collation, collate_fn, drop_last)
        return _IterableDatasetFetcher(dataset, auto_collation, collate_fn, drop_last)


class _TensorDatasetFetcher(_MapDatasetFetcher):
    """A TensorDataset's batch with default_collate: one fancy index per tensor instead of one __getitem__ and
    a stack per sample (the same batch)."""

    def fetch(self, possibly_batched_index):
        idx = np.asarray(possibly_batched_index, dtype=np.int64)
        rows = [t._data[idx] for t in self.dataset.tensors]
        from fastgrad.utils.data._utils import get_worker_info

        if get_worker_info() is not None:
            from fastgrad.multiprocessing import _shared_memory

            rows = [_shared_memory.share(r) for r in rows]
        return [engine.make_tensor(r) for r in rows]
