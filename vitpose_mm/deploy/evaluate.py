# References: mmdeploy's tools/test.py (a backend model evaluated by the OpenMMLab test loop), read for behaviour.
"""Evaluating an exported ``.onnx`` with a config's test loop (``tools/test.py CONFIG MODEL.onnx``).

The config gives the data, the pipeline that cuts the crops and the metric, as for a checkpoint; the export gives the
network, its flip test and its decoding (:class:`OnnxPoseModel`, which mmengine's test loop calls as it calls the
torch model). The export must fit the config: the same crop size, UDP or not, and the same keypoints (names in
channel order and flip pairs, as for a checkpoint: :func:`vitpose_mm.checkpoints.loading.check_dataset`).
"""
from typing import Optional

from .runtime import OnnxPoseModel


def check_export_fits(model: OnnxPoseModel, dataset, source: str, dataset_check: str = 'error') -> None:
    """Refuse an export whose crops or keypoints are not those of the config's test dataset.

    Args:
        model: the export. dataset: the config's built test dataset (its pipeline's ``TopdownAffine`` and metainfo).
        source: the file, for the messages. dataset_check: ``'error'`` or ``'warn'`` for other keypoints.

    Raises:
        CheckpointMismatchError: another crop size (``TopdownAffine.input_size``, (w, h)) or UDP setting; other
            keypoints (``dataset_check='error'``).
    """
    from vitpose_mm.checkpoints import CheckpointMismatchError
    from vitpose_mm.checkpoints.loading import check_dataset
    exported = next((t for t in model.meta['test_pipeline'] if t.get('type') == 'TopdownAffine'), {})
    transforms = getattr(getattr(dataset, 'pipeline', None), 'transforms', [])
    affine = next((t for t in transforms if type(t).__name__ == 'TopdownAffine'), None)
    if affine is not None and exported:
        for key, got in (('input_size', list(exported.get('input_size', []))),
                         ('use_udp', bool(exported.get('use_udp', False)))):
            want = list(affine.input_size) if key == 'input_size' else bool(affine.use_udp)
            if got != want:
                raise CheckpointMismatchError(f'{source} was exported with TopdownAffine {key}={got}, the config cuts '
                                              f'its test crops with {key}={want}: use the config the model was '
                                              'exported from')
    check_dataset(model.dataset_meta, getattr(dataset, 'metainfo', None), source, dataset_check, export=True)


def use_onnx_model(runner, onnx_path: str, providers=None, num_threads: Optional[int] = None,
                   dataset_check: str = 'error') -> OnnxPoseModel:
    """Put the export ``onnx_path`` in place of ``runner.model`` for ``runner.test()``, after checking that it fits.

    Args:
        runner: an mmengine runner built from the config (not wrapped for distributed testing).
        providers, num_threads: onnxruntime's (:func:`vitpose_mm.deploy.create_session`).
        dataset_check: see :func:`check_export_fits`.

    Returns:
        the :class:`OnnxPoseModel` now in ``runner.model``.

    Raises:
        FileNotFoundError, ValueError: see :func:`create_session`. CheckpointMismatchError: see
        :func:`check_export_fits`.
    """
    model = OnnxPoseModel(onnx_path, providers, num_threads)
    # builds the test loop now, as runner.test() would
    check_export_fits(model, runner.test_loop.dataloader.dataset, onnx_path, dataset_check)
    runner.model = model
    runner.logger.info(f'evaluating the ONNX export {onnx_path} ({model.meta.get("precision")}, onnxruntime '
                       f'{", ".join(model.providers)}) in place of the config\'s model')
    return model


__all__ = ['check_export_fits', 'use_onnx_model']
