"""Report what :class:`vitpose_mm.datasets.CheckedDataset` skipped: in the log and in the metrics record."""
from typing import Dict, Optional

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def _skipped(dataloader) -> Dict[str, int]:
    dataset = getattr(dataloader, 'dataset', None)
    return dict(getattr(dataset, 'skipped', None) or {})


@HOOKS.register_module()
class DataQualityHook(Hook):
    """Log the skipped samples of the training set after each epoch, and add the counts of the evaluated set (and of
    the training set, when there is one) to the metrics of every validation and test run, as
    ``data/{train,val,test}_skipped/<reason>``, so that they reach ``metrics.json`` and the logs."""

    priority = 'HIGHEST'  # before RuntimeInfoHook (VERY_HIGH) copies the metrics into the message hub and logs

    def after_train_epoch(self, runner) -> None:
        skipped = _skipped(runner.train_dataloader)
        if skipped:
            runner.logger.warning('training data skipped so far: ' + ', '.join(f'{r}: {n}' for r, n in
                                                                               skipped.items()))

    def _add(self, runner, metrics: Optional[dict], split: str) -> None:
        if metrics is None:
            return
        loader = runner.val_dataloader if split == 'val' else runner.test_dataloader
        for r, n in _skipped(loader).items():
            metrics[f'data/{split}_skipped/{r}'] = n
        if split == 'val' or getattr(runner, '_train_dataloader', None) is not None:
            try:
                train = runner.train_dataloader
            except Exception:  # no training set configured (tools/test.py)
                return
            for r, n in _skipped(train).items():
                metrics[f'data/train_skipped/{r}'] = n

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._add(runner, metrics, 'val')

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._add(runner, metrics, 'test')
