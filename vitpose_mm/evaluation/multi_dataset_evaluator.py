# References: mmpose 1.3.2 mmpose/evaluation/evaluators/mutli_dataset_evaluator.py (MultiDatasetEvaluator), reused.
"""One validation run, each dataset's own metric: mmpose's ``MultiDatasetEvaluator`` with its gaps closed.

mmpose's evaluator sends every prediction to the metric of its sample's ``dataset_name``. Three gaps, closed here:

- it reads each dataset's metainfo from the dataset *class* (``METAINFO``) and ignores the config's ``metainfo``:
  APT-36K, read by ``AP10KDataset`` with its own metainfo (``dataset_name='apt36k'``), would be filed as AP-10K and
  overwrite AP-10K's metric;
- every ``CocoMetric`` reports under the same prefix ``coco``: two of them (COCO and AIC) collide only at the end of
  validation. Here each metric without an explicit ``prefix`` gets its dataset's name (``aic/AP``, ``mpii/PCKh``),
  and repeated names or prefixes are refused when the evaluator is built;
- a prediction whose dataset has no metric is dropped silently; here it is an error naming the dataset;
- one dataset's edge case stops the whole evaluation: a dataset whose annotation file has no annotations or no
  images, or that got no prediction, makes mmpose's ``CocoMetric`` raise (``ValueError: not enough values to
  unpack``) and no dataset is reported. Here such a dataset is named in a warning and skipped, and every other
  dataset's metrics are reported (in a single process also when a metric raises on it);
- ``--out``: mmengine's ``DumpResults`` cannot sit beside it (``tools/test.py`` appends it to the evaluator as a
  metric, and mmengine looks ``PerDatasetEvaluator`` up among the metrics: ``KeyError``); ``out_file_path`` dumps
  every dataset's predictions, keyed by dataset name.
"""
import logging
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence

from mmengine.dist import all_gather_object, collect_results, get_world_size, is_main_process
from mmengine.evaluator import Evaluator
from mmengine.evaluator.metric import _to_cpu
from mmengine.fileio import dump
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.evaluation import MultiDatasetEvaluator
from mmpose.registry import DATASETS, EVALUATORS


@EVALUATORS.register_module()
class PerDatasetEvaluator(MultiDatasetEvaluator):
    """Route each prediction to the metric of its dataset; metric names ``{dataset_name}/{metric}``.

    A dataset without annotations, without images or without predictions is named in a warning and skipped; the
    others are reported.

    Args:
        metrics: one metric config per dataset, in the order of ``datasets``.
        datasets: the dataset configs (``type`` and, when it differs from the class's, ``metainfo``), typically
            the same dicts as the ``CombinedDataset``'s ``datasets``.
        out_file_path: a ``.pkl``/``.pickle`` file to dump the predictions to, ``{dataset_name: [prediction, ...]}``
            (each prediction the dict mmengine's ``DumpResults`` writes); ``tools/test.py --out`` sets it.

    Raises:
        ValueError: different numbers of metrics and datasets, two datasets of one ``dataset_name``, two metrics
            with one prefix, an ``out_file_path`` of another extension; at run time (KeyError), a prediction of a
            dataset without a metric.
    """

    def __init__(self, metrics: Sequence[dict], datasets: Sequence[dict], out_file_path: Optional[str] = None):
        if out_file_path is not None and not str(out_file_path).endswith(('.pkl', '.pickle')):
            raise ValueError(f'PerDatasetEvaluator: out_file_path must end with .pkl or .pickle, got {out_file_path}')
        self.out_file_path = out_file_path
        self._predictions: Dict[str, List[dict]] = defaultdict(list)
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
            if self.out_file_path:
                sample = sample.to_dict() if isinstance(sample, BaseDataElement) else sample
                self._predictions[name].append(_to_cpu(sample))
        super().process(data_samples, data_batch)

    def _problem(self, name: str, metric, num_predictions: int) -> Optional[str]:
        """Why ``name``'s metric cannot be computed, or None."""
        coco = getattr(metric, 'coco', None)  # CocoMetric and its kin, with an ann_file
        ann_file = getattr(metric, 'ann_file', '')
        if coco is not None and not coco.dataset.get('images'):
            return f'no images in {ann_file}'
        if coco is not None and not coco.dataset.get('annotations'):
            return f'no annotations in {ann_file}'
        if num_predictions == 0:
            return 'no predictions (no image of it was evaluated)'
        return None

    def evaluate(self, size: int) -> dict:
        """Each dataset's metrics, ``{prefix}/{name}``; a dataset that cannot be evaluated is named in a warning and
        skipped. Dumps the predictions to ``out_file_path`` when set."""
        names = list(self.metrics_dict)
        counts = [len(self.metrics_dict[n].results) for n in names]
        if get_world_size() > 1:  # the same decision on every rank: the results are split among them
            counts = [sum(c) for c in zip(*all_gather_object(counts))]
        single = get_world_size() == 1
        metrics, skipped = {}, []
        for name, count in zip(names, counts):
            metric = self.metrics_dict[name]
            problem = self._problem(name, metric, count)
            if problem is None:
                try:
                    results = metric.evaluate(size)
                except (ValueError, IndexError, KeyError, ZeroDivisionError) as e:
                    if not single:  # a rank that goes on alone would wait for the others for ever
                        raise
                    problem = f'its metric failed: {type(e).__name__}: {e}'
                    metric.results.clear()
                else:
                    for key in results:
                        if key in metrics:
                            raise ValueError(f'PerDatasetEvaluator: two metrics report {key!r}; give them prefixes')
                    metrics.update(results)
            else:
                metric.results.clear()
            if problem is not None:
                skipped.append(name)
                print_log(f'PerDatasetEvaluator: dataset {name!r} skipped: {problem}', 'current', logging.WARNING)
        if skipped:
            print_log(f'PerDatasetEvaluator: reported {len(names) - len(skipped)} of {len(names)} datasets; '
                      f'skipped: {", ".join(skipped)}', 'current', logging.WARNING)
        if self.out_file_path:
            self._dump(size)
        return metrics

    def _dump(self, size: int) -> None:
        gathered = {n: collect_results(self._predictions.get(n, []), size) for n in self.metrics_dict}
        self._predictions.clear()
        if is_main_process():
            dump({n: list(p) for n, p in gathered.items()}, self.out_file_path)
            print_log(f'PerDatasetEvaluator: predictions of {len(gathered)} datasets ('
                      + ', '.join(f'{n}: {len(p)}' for n, p in gathered.items()) + f') dumped to {self.out_file_path}',
                      'current')


__all__ = ['PerDatasetEvaluator']
