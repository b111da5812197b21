"""DatasetBatchSampler: every batch from one sub-dataset of a CombinedDataset, every sample once per epoch."""
import pytest
from mmengine.dataset import DefaultSampler

from vitpose_mm.datasets import DatasetBatchSampler


class _Combined:
    """What the sampler reads of mmpose's CombinedDataset: its length and the lengths of its sub-datasets."""

    def __init__(self, lens):
        self.lens = list(lens)

    def __len__(self) -> int:
        return sum(self.lens)


def _batches(lens, batch_size, drop_last=False, seed=0, epoch=0):
    sampler = DefaultSampler(_Combined(lens), shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    batch_sampler = DatasetBatchSampler(sampler, batch_size, drop_last)
    return list(batch_sampler), len(batch_sampler)


def test_batches_hold_one_dataset_each_and_every_sample_once():
    lens = (23, 7, 11)  # global indices 0-22, 23-29, 30-40
    batches, length = _batches(lens, batch_size=4)
    owner = [0] * 23 + [1] * 7 + [2] * 11
    assert all(len({owner[i] for i in b}) == 1 for b in batches)
    assert sorted(i for b in batches for i in b) == list(range(41))
    # full batches of 4, then the rest of each dataset: 23 = 5x4 + 3, 7 = 4 + 3, 11 = 2x4 + 3
    assert sorted(len(b) for b in batches) == [3, 3, 3] + [4] * 8 and length == len(batches) == 11
    # the datasets take turns in the shuffled order (not all of dataset 0 first)
    assert [owner[b[0]] for b in batches[:8]] != sorted(owner[b[0]] for b in batches[:8])
    # another epoch, another order
    assert _batches(lens, batch_size=4, epoch=1)[0] != batches


def test_drop_last_drops_each_datasets_incomplete_batch():
    batches, length = _batches((23, 7, 11), batch_size=4, drop_last=True)
    assert [len(b) for b in batches] == [4] * 8 and length == 8


@pytest.mark.parametrize('batch_size', [0, -2, 2.5, True])
def test_bad_batch_size_is_refused(batch_size):
    with pytest.raises(ValueError, match=f'batch_size.*got {batch_size!r}'):
        DatasetBatchSampler(DefaultSampler(_Combined((3, 4))), batch_size)


def test_a_dataset_that_is_not_combined_is_refused():
    with pytest.raises(TypeError, match='CombinedDataset'):
        DatasetBatchSampler(DefaultSampler(list(range(5))), 2)
    with pytest.raises(TypeError, match='got range'):
        DatasetBatchSampler(range(5), 2)


def test_length_is_counted_once_per_epoch():
    """mmengine asks len(dataloader) at every iteration: the count walks the sampler once per epoch, not per call."""
    class Counting(DefaultSampler):
        walks = 0

        def __iter__(self):
            Counting.walks += 1
            return super().__iter__()

    sampler = Counting(_Combined((23, 7, 11)), shuffle=True, seed=0)
    batch_sampler = DatasetBatchSampler(sampler, 4)
    assert [len(batch_sampler) for _ in range(5)] == [11] * 5 and Counting.walks == 1
    sampler.set_epoch(1)
    assert len(batch_sampler) == 11 and Counting.walks == 2
    assert len(list(batch_sampler)) == 11
