"""Seed every training epoch from (seed, epoch, rank), so that a resumed run repeats an uninterrupted one."""
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner.utils import set_random_seed


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Re-seed Python, numpy and torch at the start of each training epoch.

    mmengine's ``--resume`` restores the model, optimizer, schedulers and the epoch, and re-seeds the random generators
    with the run's seed, i.e. to the state of the *first* epoch: the augmentations (random box transform, flips) and
    drop path of the epochs after a resume then differ from an uninterrupted run. With this hook each epoch starts
    from ``seed + 1000 * epoch + rank``, whatever happened before, so an interrupted and resumed run trains on the
    same data order and the same random augmentations and ends with bitwise equal weights (tests/engine/test_resume.py).

    Data loader workers draw their own random numbers: with ``num_workers > 0`` and ``persistent_workers=True`` their
    streams go on across epochs and are not re-seeded here (mmengine seeds them once, from the run's seed).

    Args:
        seed: the base seed; None takes the runner's (``randomness.seed``).
    """

    priority = 'VERY_HIGH'

    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise ValueError(f'EpochSeedHook: seed must be a non-negative int or None, got {seed!r}')
        self.seed = seed

    def before_train_epoch(self, runner) -> None:
        base = self.seed if self.seed is not None else runner.seed
        set_random_seed((base + 1000 * runner.epoch + get_rank()) % 2**32)
