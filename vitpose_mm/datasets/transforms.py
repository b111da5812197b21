"""A data transform for multi-dataset training with mmpose's ``CombinedDataset``."""
from typing import Dict

from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()
class KeepPackedInputs(BaseTransform):
    """Keep only what ``PackPoseInputs`` made: ``inputs`` and ``data_samples``.

    Workaround for mmpose 1.3.2's ``CombinedDataset``: after a sub-dataset's pipeline ran, it adds the *combined*
    metainfo (flip pairs, body part ids) and a reference to itself (``dataset``) to the sample. When the sub-datasets
    pack their own samples (so that each keeps its own flip indices and keypoint count, as the multi-dataset configs
    do), those keys sit next to the packed sample: they would be collated into every batch and, with dataloader
    workers, the whole dataset pickled into each one. Put this transform in the ``CombinedDataset``'s ``pipeline``.

    Raises:
        KeyError: the sample was not packed by its sub-dataset's pipeline (it must end with ``PackPoseInputs``).
    """

    def transform(self, results: Dict) -> Dict:
        missing = [k for k in ('inputs', 'data_samples') if k not in results]
        if missing:
            raise KeyError(f'KeepPackedInputs: the sample has no {missing}: end every sub-dataset pipeline with '
                           'PackPoseInputs')
        return {'inputs': results['inputs'], 'data_samples': results['data_samples']}


__all__ = ['KeepPackedInputs']
