# References: mmpose 1.3.2 mmpose/evaluation/evaluators/mutli_dataset_evaluator.py (MultiDatasetEvaluator), reused.
"""One validation run, each dataset's own metric: mmpose's ``MultiDatasetEvaluator`` with its gaps closed.

mmpose's evaluator sends every prediction to the metric of its sample's ``dataset_name``. Three gaps, closed here:

- it reads each dataset's metainfo from the dataset *class* (``METAINFO``) and ignores the config's ``metainfo``:
  APT-36K, read by ``AP10KDataset`` with its own metainfo (``dataset_name='apt36k'``), would be filed as AP-10K and
  overwrite AP-10K's metric;
- every ``CocoMetric`` reports under the same prefix ``coco``: two of them (COCO and AIC) collide only at the end of
  validation. Here each metric without an explicit ``prefix`` gets its dataset's name (``aic/AP``, ``mpii/PCKh``),
  and repeated names or prefixes are refused when the evaluator is built;
- a prediction whose dataset has no metric is dropped silently; here it is an error naming the dataset.
"""
from typing import Any, Optional, Sequence

from mmengine.evaluator import Evaluator
from mmengine.structures import BaseDataElement

from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.evaluation import MultiDatasetEvaluator
from mmpose.registry import DATASETS, EVALUATORS


@EVALUATORS.register_module()
class PerDatasetEvaluator(MultiDatasetEvaluator):
    """Route each prediction to the metric of its dataset; metric names ``{dataset_name}/{metric}``.

    Args:
        metrics: one metric config per dataset, in the order of ``datasets``.
        datasets: the dataset configs (``type`` and, when it differs from the class's, ``metainfo``), typically
            the same dicts as the ``CombinedDataset``'s ``datasets``.

    Raises:
        ValueError: different numbers of metrics and datasets, two datasets of one ``dataset_name``, two metrics
            with one prefix; at run time (KeyError), a prediction of a dataset without a metric.
    """

    def __init__(self, metrics: Sequence[dict], datasets: Sequence[dict]):
        if len(metrics) != len(datasets):
            raise ValueError(f'PerDatasetEvaluator: {len(metrics)} metrics for {len(datasets)} datasets; give one '
                             'metric per dataset, in the same order')
        metas = [parse_pose_metainfo(d.get('metainfo') or DATASETS.get(d['type']).METAINFO) for d in datasets]
        names = [m['dataset_name'] for m in metas]
        if len(set(names)) != len(names):
            raise ValueError(f'PerDatasetEvaluator: datasets share a dataset_name: {names}; give each a metainfo '
                             'of its own name (e.g. configs/_base_/datasets/apt36k.py)')
        metrics = [dict(m, prefix=m.get('prefix', name)) if isinstance(m, dict) else m
                   for m, name in zip(metrics, names)]
        Evaluator.__init__(self, metrics)
        prefixes = [getattr(m, 'prefix', None) for m in self.metrics]
        if len(set(prefixes)) != len(prefixes):
            raise ValueError(f'PerDatasetEvaluator: metric prefixes repeat: {prefixes}')
        for meta, metric in zip(metas, self.metrics):
            metric.dataset_meta = meta
        self.metrics_dict = dict(zip(names, self.metrics))

    def process(self, data_samples: Sequence[BaseDataElement], data_batch: Optional[Any] = None) -> None:
        for sample in data_samples:
            name = sample.get('dataset_name') if isinstance(sample, dict) else sample.metainfo.get('dataset_name')
            if name not in self.metrics_dict:
                raise KeyError(f'a prediction of dataset {name!r} has no metric; metrics: '
                               f'{list(self.metrics_dict)}')
        super().process(data_samples, data_batch)


__all__ = ['PerDatasetEvaluator']
