"""Checking the per-sample expert index (``dataset_source``) of ViTPose+ before it selects experts.

``MoEMlp`` selects expert ``i`` with a mask ``dataset_source == i``: an index that names no expert (6 of 6, -1) or is
not an integer (2.5) would match no mask and silently give zeros in every expert channel. The official
``vit_moe.py`` has the same behaviour. Here such an index is an error, and training a model with several experts
without any index (every sample on ``default_dataset``, the other experts never trained) is warned about once.

The values are checked where they are on the host: ``MultiDatasetTopdownPoseEstimator`` checks the indices it routes
(Python ints, :func:`check_expert_indices`) before they become a tensor, and :func:`check_dataset_source` checks the
values of indices given on the CPU. Indices already on an accelerator are checked for dtype and count only: reading
their values would synchronise the device with the host at every forward pass (and break ``torch.compile`` graphs).
"""
import warnings
from typing import Any, Iterable

import torch
from mmengine.logging import MMLogger


def check_dataset_source(dataset_source: Any, batch: int, num_expert: int, device: torch.device) -> torch.Tensor:
    """Validate per-sample expert indices and return them as a (B,) ``torch.long`` tensor on ``device``.

    Args:
        dataset_source: one integer index per sample (tensor, sequence or numpy array of B integers), each in
            ``0 .. num_expert - 1`` (the ViTPose+ dataset order: coco 0, aic 1, mpii 2, ap10k 3, apt36k 4,
            wholebody 5).
        batch: B, the number of images in the batch.
        num_expert: the backbone's number of experts.
        device: where the returned tensor lives.

    Raises:
        TypeError: ``dataset_source`` is not integer-valued (floats such as 2.5, booleans, strings).
        ValueError: it does not hold B entries, or an index lies outside ``0 .. num_expert - 1`` (checked when the
            indices are not a tensor on an accelerator: see the module doc).
    """
    try:
        source = torch.as_tensor(dataset_source)
    except (TypeError, ValueError, RuntimeError) as e:
        raise TypeError(f'dataset_source must hold one integer expert index per sample, got {dataset_source!r}') \
            from e
    if source.dtype == torch.bool or source.is_floating_point() or source.is_complex():
        raise TypeError(f'dataset_source must hold integer expert indices in 0..{num_expert - 1} '
                        f'(num_expert={num_expert}), got dtype {source.dtype}: {_few(source)}')
    source = source.reshape(-1)
    if source.numel() != batch:
        raise ValueError(f'dataset_source has {source.numel()} entries for a batch of {batch}')
    if source.device.type == 'cpu':  # values on the host: no synchronisation
        check_expert_indices(source.tolist(), num_expert)
    return source.to(device=device, dtype=torch.long)


def check_expert_indices(indices: Iterable[int], num_expert: int) -> None:
    """Raise ``ValueError`` naming the indices (host integers) outside ``0 .. num_expert - 1``."""
    bad = sorted({i for i in indices if not 0 <= i < num_expert})
    if bad:
        raise ValueError(f'dataset_source holds expert index(es) {bad} outside 0..{num_expert - 1} '
                         f'(num_expert={num_expert})')


def warn_unrouted_training(num_expert: int, default_dataset: int) -> None:
    """The one loud warning for training a backbone with several experts that is given no ``dataset_source``."""
    message = (f'ViT with num_expert={num_expert} is training without dataset_source: every sample goes to expert '
               f'default_dataset={default_dataset} and the other {num_expert - 1} experts receive no gradient. '
               'To train ViTPose+ on several datasets use model type MultiDatasetTopdownPoseEstimator '
               '(configs/vitpose_plus/, docs/vitpose_plus.md); to fine-tune one dataset, fold its expert first '
               '(tools/convert_checkpoint.py --dataset NAME) or set default_dataset to its expert on purpose.')
    MMLogger.get_current_instance().warning(message)
    warnings.warn(message, stacklevel=3)


def _few(t: torch.Tensor, n: int = 8) -> str:
    if t.device.type != 'cpu':
        return f'a {tuple(t.shape)} tensor on {t.device}'
    values = t.reshape(-1)[:n].tolist()
    return f'{values}{" ..." if t.numel() > n else ""}'


__all__ = ['check_dataset_source', 'check_expert_indices', 'warn_unrouted_training']
