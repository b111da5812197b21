# References: mmdet 3.x AspectRatioBatchSampler (mmdet/datasets/samplers/batch_sampler.py), whose bucketing this
# follows with one bucket per sub-dataset instead of one per aspect-ratio group.
"""Batches of one dataset each, for multi-dataset training on mmpose's ``CombinedDataset``."""
import bisect
from itertools import accumulate
from typing import Iterator, List

from torch.utils.data import BatchSampler, Sampler

from mmpose.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class DatasetBatchSampler(BatchSampler):
    """Every batch holds samples of one sub-dataset of a ``CombinedDataset`` only.

    With mixed batches, each dataset's head sees only its share of every batch (about ``batch_size / number of
    datasets`` samples), so its BatchNorm statistics and its gradient come from a few samples. Here a batch is
    ``batch_size`` samples of one dataset; the datasets take turns in the random order the wrapped sampler gives
    (a dataset's share of the batches is its share of the samples, as with mixed batches).

    Args:
        sampler: the sampler over the ``CombinedDataset`` (mmengine's ``DefaultSampler``, shuffled or not; its
            ``dataset`` attribute must be the ``CombinedDataset``).
        batch_size: samples per batch (positive).
        drop_last: drop the last, incomplete batch of each dataset (else it is yielded on its own).

    Raises:
        TypeError: ``sampler`` is not a ``Sampler`` or its dataset is not a ``CombinedDataset`` (no ``lens``).
        ValueError: ``batch_size`` is not a positive integer.
    """

    def __init__(self, sampler: Sampler, batch_size: int, drop_last: bool = False) -> None:
        if not isinstance(sampler, Sampler):
            raise TypeError(f'sampler must be a torch Sampler, got {type(sampler).__name__}')
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f'batch_size must be a positive integer, got {batch_size!r}')
        dataset = getattr(sampler, 'dataset', None)
        if not hasattr(dataset, 'lens'):
            raise TypeError('DatasetBatchSampler groups the sub-datasets of a CombinedDataset; the sampler\'s dataset '
                            f'is {type(dataset).__name__}')
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last
        self._ends = list(accumulate(dataset.lens))  # the end of each sub-dataset's global index range
        self._length = None  # (the wrapped sampler's epoch, the number of batches then)

    def dataset_of(self, index: int) -> int:
        """The position in the ``CombinedDataset`` of the sub-dataset holding global sample ``index``."""
        return bisect.bisect_right(self._ends, index)

    def __iter__(self) -> Iterator[List[int]]:
        buckets: List[List[int]] = [[] for _ in self._ends]
        for index in self.sampler:
            bucket = buckets[self.dataset_of(index)]
            bucket.append(index)
            if len(bucket) == self.batch_size:
                yield bucket[:]
                bucket.clear()
        if not self.drop_last:
            for bucket in buckets:
                if bucket:
                    yield bucket[:]

    def __len__(self) -> int:
        # mmengine asks len(dataloader) at every iteration (LoggerHook's end-of-epoch check); counting walks the
        # whole epoch's indices, so it is done once per epoch of the wrapped sampler
        epoch = getattr(self.sampler, 'epoch', None)
        if self._length is None or self._length[0] != epoch:
            counts = [0] * len(self._ends)
            for index in self.sampler:
                counts[self.dataset_of(index)] += 1
            full = sum(c // self.batch_size for c in counts)
            self._length = (epoch, full if self.drop_last else full + sum(1 for c in counts if c % self.batch_size))
        return self._length[1]


__all__ = ['DatasetBatchSampler']
