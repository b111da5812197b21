"""``tools/finetune.py``: check everything, write the run's files into the work dir, then train with the package's
launch path (:mod:`vitpose_mm.engine.launch`: mmengine's runner, ``--resume``, ``--amp``, launchers).

Files in the work dir (nothing is written before every check passed; each file is written whole):

- ``{name}_metainfo.py``: mmpose's ``dataset_info`` of the new keypoints;
- ``finetune_{name}.py``: the complete config (``metainfo=dict(from_file=...)``, data, schedule, ``load_from``);
  ``mim train`` / ``mim test`` / ``tools/test.py`` / ``tools/demo.py`` take it as it is;
- ``init_weights.pth``: the starting weights carried into the new model (``load_from``);
- ``finetune_run.json``: what the run was made from (its identity; a different run is refused) and the notes.
"""
import copy
import json
import os
import os.path as osp
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

from mmengine.logging import MMLogger

from vitpose_mm.checkpoints.io import atomic_path

from .errors import FinetuneError
from .metainfo import build_dataset_info, read_keypoint_annotations, resolve_flip_pairs, write_dataset_info, write_text

RECORD = 'finetune_run.json'
INIT_WEIGHTS = 'init_weights.pth'


@dataclass
class FinetuneArgs:
    """The command line of ``tools/finetune.py`` (see its ``--help``)."""
    train_ann: str
    train_img_dir: str
    start: str  # --from: a config (file or shipped name) or an HF ViTPose folder
    work_dir: str
    checkpoint: Optional[str] = None
    dataset: Optional[str] = None
    val_ann: Optional[str] = None
    val_img_dir: Optional[str] = None
    epochs: Optional[int] = None
    flip_pairs: Sequence[str] = ()
    no_flip: bool = False
    name: str = 'custom'
    add_dataset: Optional[str] = None
    train_shared: bool = False
    cfg_options: Dict[str, object] = field(default_factory=dict)
    resume: bool = False
    amp: bool = False
    launcher: str = 'none'

    def identity(self) -> dict:
        """What makes a run: the inputs (absolute paths), not how it is launched."""
        ident = asdict(self)
        for key in ('resume', 'amp', 'launcher', 'work_dir'):
            ident.pop(key)
        for key in ('train_ann', 'train_img_dir', 'val_ann', 'val_img_dir', 'checkpoint'):
            if ident[key]:
                ident[key] = osp.abspath(ident[key])
        if osp.exists(self.start):
            ident['start'] = osp.abspath(self.start)
        ident['flip_pairs'] = list(ident['flip_pairs'])
        ident['cfg_options'] = json.loads(json.dumps(self.cfg_options, default=str))
        return ident

    @property
    def dataset_name(self) -> str:
        return self.add_dataset or self.name


def _rank() -> int:
    for var in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'):
        if os.environ.get(var):
            return int(os.environ[var])
    return 0


def config_path(args: FinetuneArgs) -> str:
    return osp.join(args.work_dir, f'finetune_{args.dataset_name}.py')


def check_work_dir(args: FinetuneArgs) -> Optional[dict]:
    """The run record of the work dir, when it holds this run and ``--resume`` is given; None for a new dir.

    Raises:
        FinetuneError: the dir holds a different run, or files of no fine-tuning run (unless it is new or empty),
            or this run without ``--resume``, or ``--resume`` with nothing to resume.
    """
    record_file = osp.join(args.work_dir, RECORD)
    if not osp.isdir(args.work_dir) or not os.listdir(args.work_dir):
        if args.resume:
            raise FinetuneError(args.work_dir, 'nothing to resume: no fine-tuning run here',
                                'run without --resume to start it', record='--resume')
        return None
    if not osp.isfile(record_file):
        raise FinetuneError(args.work_dir, f'the work dir holds files of another run ({sorted(os.listdir(args.work_dir))[:3]})',
                            'give a new --work-dir', record='--work-dir')
    with open(record_file) as f:
        record = json.load(f)
    mine = args.identity()
    if record.get('identity') != mine:
        diff = sorted(k for k in set(mine) | set(record.get('identity', {}))
                      if mine.get(k) != record.get('identity', {}).get(k))
        raise FinetuneError(args.work_dir, f'the work dir holds a different run (differs in {diff})',
                            'give a new --work-dir (or the same arguments with --resume)', record=diff[0])
    if not args.resume:
        raise FinetuneError(args.work_dir, 'the work dir holds this run already',
                            'add --resume to continue it, or give a new --work-dir', record='--resume')
    return record


def prepare(args: FinetuneArgs) -> dict:
    """Every check and every file's content, nothing written: a plan for :func:`write`.

    Raises:
        FinetuneError: bad input (see docs/finetune.md); the message names the file, the record and the fix.
    """
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    from .config import check_model
    from .start import read_start
    logger = MMLogger.get_current_instance()
    if bool(args.val_ann) != bool(args.val_img_dir):
        raise FinetuneError('--val-ann' if args.val_ann else '--val-img-dir', 'give both or neither',
                            'add the missing one', record='--val-ann/--val-img-dir')
    if args.train_shared and not args.add_dataset:
        raise FinetuneError('--train-shared', 'applies to --add-dataset only', 'drop it', record='--train-shared')
    train = read_keypoint_annotations(args.train_ann, args.train_img_dir)
    val = read_keypoint_annotations(args.val_ann, args.val_img_dir) if args.val_ann else None
    if val is not None and val.names != train.names:
        raise FinetuneError(args.val_ann, f'keypoints {val.names} differ from the training file\'s {train.names}',
                            'use annotation files of one keypoint definition', record='categories[].keypoints')
    pairs = resolve_flip_pairs(train, args.flip_pairs, args.no_flip)
    logger.info('flip pairs (check them; give your own with --flip-pairs a:b ...): '
                + (', '.join(f'{a}:{b}' for a, b in pairs) or 'none'))
    info, notes = build_dataset_info(train, pairs, args.dataset_name)
    start = read_start(args.start, args.checkpoint, args.dataset, add_dataset=bool(args.add_dataset))
    check_model(start.cfg, start.source)
    metainfo_path = osp.abspath(osp.join(args.work_dir, f'{args.dataset_name}_metainfo.py'))
    plan = dict(args=args, train=train, info=info, metainfo_path=metainfo_path, notes=notes + start.notes)
    common = dict(num_keypoints=len(train.names), metainfo_file=metainfo_path,
                  train=(osp.abspath(args.train_ann), osp.abspath(args.train_img_dir)),
                  val=(osp.abspath(args.val_ann), osp.abspath(args.val_img_dir)) if val else None,
                  num_instances=train.num_instances, use_area=train.has_area and (val is None or val.has_area),
                  epochs=args.epochs, work_dir=osp.abspath(args.work_dir))
    init = osp.abspath(osp.join(args.work_dir, INIT_WEIGHTS))
    parsed = parse_pose_metainfo(copy.deepcopy(info))
    if args.add_dataset:
        from .config import add_dataset_config
        from .start import init_added_dataset
        cfg, cfg_notes = add_dataset_config(start.cfg, name=args.add_dataset, load_from=init,
                                            train_shared=args.train_shared, **common)
        sd, weight_notes = init_added_dataset(start, cfg, args.add_dataset, train.names)
        meta = None
    else:
        from .config import finetune_config
        from .start import init_plain
        flip = not args.no_flip and bool(pairs)
        cfg, cfg_notes = finetune_config(start.cfg, flip=flip, load_from=init if start.checkpoint else None,
                                         **common)
        sd, weight_notes = init_plain(start, cfg, train.names) if start.checkpoint else (None, [])
        meta = parsed
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    plan.update(cfg=cfg, state_dict=sd, dataset_meta=meta, notes=plan['notes'] + cfg_notes + weight_notes)
    for note in plan['notes']:
        logger.info(f'finetune: {note}')
    return plan


def write(plan: dict) -> str:
    """Write the plan's files into the work dir (the record last); returns the config path."""
    import torch
    args: FinetuneArgs = plan['args']
    os.makedirs(args.work_dir, exist_ok=True)
    write_dataset_info(plan['info'], plan['metainfo_path'], [n for n in plan['notes'] if 'sigma' in n])
    if plan['state_dict'] is not None:
        meta = dict(vitpose_mm=dict(finetune_notes=plan['notes']))
        if plan['dataset_meta'] is not None:
            meta['dataset_meta'] = plan['dataset_meta']
        with atomic_path(osp.join(args.work_dir, INIT_WEIGHTS)) as tmp:
            torch.save(dict(meta=meta, state_dict=plan['state_dict']), tmp)
    path = config_path(args)
    header = '# Written by tools/finetune.py (vitpose_mm.finetune); see finetune_run.json for how it was made.\n'
    cfg = plan['cfg']
    if _multi_dataset(cfg):  # yapf takes minutes on these configs (one pipeline per dataset): plain layout
        from mmengine.config import Config
        cfg = Config(cfg.to_dict(), format_python_code=False)
    write_text(path, header + cfg.pretty_text)
    record = dict(identity=args.identity(), config=osp.basename(path), notes=plan['notes'])
    write_text(osp.join(args.work_dir, RECORD), json.dumps(record, indent=2) + '\n')
    return path


def _multi_dataset(cfg) -> bool:
    return cfg.model.get('type') == 'MultiDatasetTopdownPoseEstimator'


def _wait_for_record(args: FinetuneArgs, timeout: float = 1800.) -> None:
    """Ranks other than 0 wait until rank 0 has written the run's files."""
    record_file = osp.join(args.work_dir, RECORD)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if osp.isfile(record_file):
            with open(record_file) as f:
                if json.load(f).get('identity') == args.identity():
                    return
        time.sleep(1.)
    raise FinetuneError(args.work_dir, f'rank {_rank()}: rank 0 wrote no run record in {timeout:.0f} s',
                        'see rank 0\'s error', record=RECORD)


def finetune(args: FinetuneArgs, train: bool = True) -> str:
    """Check, write and (``train``) train; returns the written config's path.

    Raises:
        FinetuneError: bad input; nothing was written.
    """
    from vitpose_mm.engine.launch import build_train_config, run_train
    path = config_path(args)
    if _rank() == 0:
        if check_work_dir(args) is None:
            path = write(prepare(args))
        else:
            MMLogger.get_current_instance().info(f'resuming the run in {args.work_dir}')
    else:
        _wait_for_record(args)
    if not train:
        return path
    resume = 'auto' if args.resume and osp.isfile(osp.join(args.work_dir, 'last_checkpoint')) else None
    cfg = build_train_config(path, None, work_dir=args.work_dir, launcher=args.launcher, resume=resume, amp=args.amp)
    if _multi_dataset(cfg):
        # mmengine 0.10.7 formats the whole config with yapf when a run starts (log and dump): minutes for
        # multi-dataset configs on a small CPU. Config's own switch for it (set in its __init__) turns it off here.
        object.__setattr__(cfg, '_format_python_code', False)
    run_train(cfg)
    return path


__all__ = ['FinetuneArgs', 'prepare', 'write', 'finetune', 'check_work_dir', 'RECORD', 'INIT_WEIGHTS']
