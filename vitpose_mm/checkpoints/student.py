"""The plain student checkpoint of a distillation run (KnowledgeTokenDistiller, stage 2).

Keeps ``backbone.*``, ``neck.*`` and ``head.*``, with ``backbone.extra_tokens`` the knowledge token as the student
uses it (the distiller's own with equal widths; with a projection ``token_proj(knowledge_token)``, computed here: the
distiller's backbone then has no token of its own), and drops what only training needs (the stage-1 token
``knowledge_token`` and its projection ``token_proj``; a teacher is never stored). ``tools/extract_student.py`` is its
command line (argparse plus :func:`write_student`).
"""
import os.path as osp
from typing import Dict, List, Optional, Tuple

import torch

from .conversion import CheckpointMismatchError
from .io import atomic_path, load_file, state_dict_of, strip_module_prefix
from .loading import load

STUDENT_PREFIXES = ('backbone.', 'neck.', 'head.')
TOKEN_KEY = 'backbone.extra_tokens'
# checkpoint meta kept in the student's file; vitpose_mm: the recorded position grid
KEPT_META = ('dataset_meta', 'epoch', 'iter', 'seed', 'mmpose_version', 'vitpose_mm')


def extract_student(state_dict: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """The student's part of a distiller state dict, and the keys left out (sorted).

    ``backbone.extra_tokens`` is recomputed as ``knowledge_token @ token_proj.weight.T`` (shape (1, T, C_student))
    when the projection is stored, so that it never disagrees with the distiller's.

    Raises:
        ValueError: no ``backbone.*`` and ``head.*`` weights, or ``token_proj.weight`` without ``knowledge_token``.
    """
    sd = strip_module_prefix(state_dict)
    student = {k: v for k, v in sd.items() if k.startswith(STUDENT_PREFIXES)}
    if not any(k.startswith('backbone.') for k in student) or not any(k.startswith('head.') for k in student):
        raise ValueError('no backbone.* and head.* weights: not a checkpoint of a pose model')
    if 'token_proj.weight' in sd:
        if 'knowledge_token' not in sd:
            raise ValueError('token_proj.weight without knowledge_token: an incomplete distillation checkpoint')
        # With a projection the student's token is W·t (checkpoints made before the teacher rework also carry a
        # copy of it, made at save time, as backbone.extra_tokens: replaced here by the same product).
        token = sd['knowledge_token'].float() @ sd['token_proj.weight'].float().t()
        student[TOKEN_KEY] = token.to(sd['token_proj.weight'].dtype)
    return student, sorted(k for k in sd if k not in student)


def check_loads(student: Dict[str, torch.Tensor], config: str) -> None:
    """Build the config's model and load ``student`` into it through the package's one loader (all or nothing;
    errors say what does not fit and the fix).

    Raises:
        ValueError: ``config`` is a distillation config, or the student does not load into its model.
    """
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    from vitpose_mm.utils import load_config
    cfg = load_config(config)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model_cfg = cfg.model
    if model_cfg.get('type') == 'KnowledgeTokenDistiller':
        raise ValueError(f'{config} is a distillation config; give the plain student config (e.g. a *-kt config)')
    model = MODELS.build(model_cfg)
    try:
        load(model, student, config=config, source='the extracted student')
    except CheckpointMismatchError as e:
        raise ValueError(f'the extracted student does not load into the model of {config}: {e}') from e


def write_student(checkpoint: str, out: str, config: Optional[str] = None) -> Tuple[Dict[str, torch.Tensor],
                                                                                      List[str]]:
    """Read the distillation checkpoint, extract the student, check it against ``config`` (optional) and save it to
    ``out`` as ``dict(state_dict=..., meta=...)`` (meta: ``KEPT_META`` of the source plus ``extracted_from``).

    Returns:
        the student state dict and the keys left out, as :func:`extract_student`.

    Raises:
        FileNotFoundError, ValueError, KeyError, RuntimeError: the checkpoint cannot be read or does not fit;
        nothing is written then.
    """
    ckpt = load_file(checkpoint)
    student, dropped = extract_student(state_dict_of(ckpt, checkpoint))
    if config:
        check_loads(student, config)
    meta = dict(ckpt.get('meta', {})) if isinstance(ckpt, dict) else {}
    meta = {k: v for k, v in meta.items() if k in KEPT_META}
    meta['extracted_from'] = osp.abspath(checkpoint)
    with atomic_path(out) as tmp:
        torch.save(dict(state_dict=student, meta=meta), tmp)
    return student, dropped
