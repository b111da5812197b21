"""Turn on the fast inference paths of the model before testing (``tools/test.py --precision/--compile``)."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from vitpose_mm.models.pose_estimators.fast_inference import enable_fast_inference, fast_inference_options


@HOOKS.register_module()
class FastInferenceHook(Hook):
    """Before the test loop (after the checkpoint is loaded), apply
    :func:`vitpose_mm.models.pose_estimators.fast_inference.enable_fast_inference` with the model's
    ``test_cfg.precision`` (``'fp32'``, ``'bf16'``, ``'fp16'`` on CUDA) and ``test_cfg.compile``; the flip test runs
    as one batch. Only the test loop: validation during training keeps the training model as it is.
    ``tools/test.py`` adds this hook when the config or the command line asks for a fast path.
    """

    priority = 'LOW'

    def before_test(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        options = fast_inference_options(model.test_cfg)
        enable_fast_inference(model, **options)
        runner.logger.info(f'fast inference: {model.fast_inference}')
