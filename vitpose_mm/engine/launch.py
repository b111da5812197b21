"""Training and testing from a config file: what ``tools/train.py`` and ``tools/test.py`` (and ``mim train/test``)
run after parsing their arguments.

Both look a config up by path or by shipped file name (``vitpose_mm.utils.find_config``), merge ``--cfg-options``,
then set the launcher and the work dir (``./work_dirs/CONFIG_NAME`` unless given or set by the config).
"""
import os.path as osp
from typing import Callable, Optional, Sequence

from mmengine.config import Config
from mmengine.fileio import dump
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from vitpose_mm.models.pose_estimators.fast_inference import PRECISIONS, fast_inference_options
from vitpose_mm.utils import load_config
from .dist import cpu_distributed

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def tool_config(config: str, cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """The config ``config`` with ``cfg_options`` merged, ``launcher`` (one of ``LAUNCHERS``) and the work dir set:
    ``work_dir``, else the config's, else ``./work_dirs/CONFIG_NAME``.

    Raises:
        FileNotFoundError: ``config`` is neither a file nor a shipped config name.
    """
    cfg = load_config(config, cfg_options)
    cfg.launcher = launcher
    cfg.work_dir = work_dir or cfg.get('work_dir') or osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    return cfg


def build_train_config(config: str, cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
                 launcher: str = 'none', resume: Optional[str] = None, amp: bool = False, no_validate: bool = False,
                 auto_scale_lr: bool = False) -> Config:
    """:func:`tool_config` plus the training switches of ``tools/train.py``.

    Args:
        resume: ``'auto'`` (the latest checkpoint of the work dir), a checkpoint path, or None (no resuming).
        amp: automatic mixed precision: on CUDA fp16 (``AmpOptimWrapper``, dynamic loss scale unless the config sets
            one), on a machine without CUDA bfloat16 (``AutocastOptimWrapper``); see :func:`set_amp`.
        no_validate: drop validation (``val_cfg``, ``val_dataloader``, ``val_evaluator``).
        auto_scale_lr: scale the learning rate by the actual total batch size.

    Raises:
        ValueError: ``auto_scale_lr`` with a config that has no ``auto_scale_lr`` entry.
    """
    cfg = tool_config(config, cfg_options, work_dir, launcher)
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        cfg.resume = True
        cfg.load_from = resume
    if amp:
        set_amp(cfg)
    if no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise ValueError(f'{config} has no auto_scale_lr entry; cannot use --auto-scale-lr')
        cfg.auto_scale_lr.enable = True
    return cfg


def set_amp(cfg: Config) -> None:
    """Mixed-precision training for ``cfg`` (``tools/train.py --amp``): with CUDA, mmengine's ``AmpOptimWrapper``
    (fp16 with a dynamic loss scale, or the config's ``dtype``/``loss_scale``); without CUDA, bfloat16 through
    ``AutocastOptimWrapper`` (mmengine's ``AmpOptimWrapper`` refuses to start without CUDA). A config that already
    trains under ``AutocastOptimWrapper`` is left as it is."""
    import torch
    from mmengine.logging import print_log
    wrapper = cfg.optim_wrapper
    if wrapper.get('type') == 'AutocastOptimWrapper':
        return
    if torch.cuda.is_available():
        wrapper.type = 'AmpOptimWrapper'
        wrapper.setdefault('loss_scale', 'dynamic')
        return
    if wrapper.get('dtype') in ('float16', 'fp16'):
        raise ValueError('--amp: the config asks for float16 mixed precision, which needs CUDA (this machine has '
                         "none); set optim_wrapper.dtype='bfloat16' or train without --amp")
    for key in ('loss_scale', 'dtype', 'use_fsdp'):
        wrapper.pop(key, None)
    wrapper.update(type='AutocastOptimWrapper', dtype='bfloat16')
    print_log('--amp without CUDA: bfloat16 mixed precision on the CPU (AutocastOptimWrapper)', 'current')


def build_test_config(config: str, checkpoint: str, cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
                launcher: str = 'none', out: Optional[str] = None, show_dir: Optional[str] = None,
                kpt_thr: float = 0.3, src_grid: Optional[Sequence[int]] = None, verbose: bool = False,
                precision: Optional[str] = None, compile: bool = False) -> Config:
    """:func:`tool_config` plus the testing switches of ``tools/test.py``; the checkpoint is loaded by
    ``ViTPoseRunner`` (also for configs that name no runner).

    Args:
        checkpoint: path or URL, loaded as ``load_from``.
        out: dump the raw predictions to this .pkl/.pickle/.json file (mmengine's ``DumpResults``); for a
            ``PerDatasetEvaluator`` (ViTPose+), a .pkl/.pickle of ``{dataset_name: [prediction, ...]}``.
        show_dir: save images with predicted skeletons there (relative to the run's log dir); ``kpt_thr`` applies.
        src_grid: (rows, columns) position grid of the checkpoint when it does not record it.
        verbose: list every key when the checkpoint does not fit.
        precision: ``'fp32'``, ``'bf16'`` or ``'fp16'`` (CUDA): sets ``model.test_cfg.precision``; None keeps the
            config's (default fp32).
        compile: sets ``model.test_cfg.compile=True`` (``torch.compile``). When the config (or these) asks for a
            fast path, ``FastInferenceHook`` applies it after loading the checkpoint (docs/speed.md).

    Raises:
        ValueError: ``out`` with another extension.
    """
    cfg = tool_config(config, cfg_options, work_dir, launcher)
    cfg.load_from = checkpoint
    if 'runner_type' not in cfg:  # the one checkpoint loader, also for configs that name no runner
        cfg.runner_type = 'ViTPoseRunner'
    loading = dict(cfg.get('checkpoint_loading') or {})
    if src_grid:
        loading['src_grid'] = tuple(src_grid)
    if verbose:
        loading['verbose'] = True
    cfg.checkpoint_loading = loading
    add_fast_inference(cfg, precision, compile)
    if show_dir:
        vis = cfg.default_hooks.visualization
        vis.update(enable=True, out_dir=show_dir, kpt_thr=kpt_thr)
        cfg.visualizer.setdefault('radius', 3)
    if out:
        if not out.endswith(('.pkl', '.pickle', '.json')):
            raise ValueError(f'--out must end with .pkl, .pickle or .json, got {out}')
        evaluator = cfg.test_evaluator
        if isinstance(evaluator, dict) and evaluator.get('type') == 'PerDatasetEvaluator':
            # an evaluator, not a metric: mmengine cannot append DumpResults beside it; it dumps per dataset itself
            if not out.endswith(('.pkl', '.pickle')):
                raise ValueError(f'--out of a multi-dataset config must end with .pkl or .pickle, got {out}')
            evaluator['out_file_path'] = out
        else:
            cfg.test_evaluator = evaluator if isinstance(evaluator, list) else [evaluator]
            cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=out))
    return cfg


def add_fast_inference(cfg: Config, precision: Optional[str] = None, compile: bool = False) -> None:
    """Set ``model.test_cfg.precision`` / ``compile`` (when given) and add ``FastInferenceHook`` when the config then
    asks for a fast path (bf16/fp16 or compile).

    Raises:
        ValueError: a precision that is not one of ``PRECISIONS``.
    """
    test_cfg = cfg.model.setdefault('test_cfg', {})
    if precision is not None:
        test_cfg['precision'] = precision
    if compile:
        test_cfg['compile'] = True
    options = fast_inference_options(test_cfg)
    if options['precision'] not in PRECISIONS:
        raise ValueError(f"model.test_cfg.precision must be one of {list(PRECISIONS)}, got {options['precision']!r}")
    hooks = cfg.get('custom_hooks') or []
    if (options['precision'] != 'fp32' or options['compile']) and \
            not any(h.get('type') == 'FastInferenceHook' for h in hooks):
        cfg.custom_hooks = [*hooks, dict(type='FastInferenceHook')]


def build_runner(cfg: Config) -> Runner:
    """The config's runner (``runner_type``, else mmengine's ``Runner``). With ``launcher='pytorch'`` on a machine
    without CUDA the process group it creates is gloo (:func:`vitpose_mm.engine.dist.cpu_distributed`)."""
    with cpu_distributed():
        return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)


def run_train(cfg: Config) -> None:
    """Train with the config's runner (:func:`build_runner`)."""
    build_runner(cfg).train()


def run_test(cfg: Config, prepare: Optional[Callable[[Runner], None]] = None) -> dict:
    """Evaluate with the config's runner; the metrics are also written to ``WORK_DIR/metrics.json`` (for scripts).

    Args:
        prepare: called with the built runner before testing, e.g. ``tools/test.py MODEL.onnx`` puts an ONNX export
            in place of the config's model there (``vitpose_mm.deploy.evaluate.use_onnx_model``).

    Raises:
        CheckpointMismatchError: the checkpoint (or export) does not fit the model (nothing is loaded; the message
            says the fix).
    """
    runner = build_runner(cfg)
    if prepare is not None:
        prepare(runner)
    metrics = runner.test()
    if metrics:  # also as a file, for scripts (the runner logs them too)
        dump(metrics, osp.join(cfg.work_dir, 'metrics.json'), indent=2)
    return metrics
