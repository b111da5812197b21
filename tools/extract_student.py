"""Write the plain student checkpoint of a distillation run (KnowledgeTokenDistiller, stage 2).

    python tools/extract_student.py DISTILL_CKPT OUT [--config STUDENT_CONFIG]
    mim run vitpose_mm extract_student DISTILL_CKPT OUT [--config STUDENT_CONFIG]

Keeps ``backbone.*``, ``neck.*`` and ``head.*``, with ``backbone.extra_tokens`` the knowledge token as the student
uses it (the distiller's own with equal widths; with a projection ``token_proj(knowledge_token)``, computed here: the
distiller's backbone then has no token of its own), and drops what only training needs (the stage-1 token
``knowledge_token`` and its projection ``token_proj``; a teacher is never stored). The result is tested or deployed
with a plain config, e.g. configs/distill/demo/td-hm_ViTPose-micro-kt_1xb32-12e_synthetic-128x96.py (a ViT with
``num_extra_tokens=1``), or the plain student config for heatmap-only distillation. With ``--config`` the output is
first loaded strictly into that config's model, and nothing is written if it does not fit.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, List, Tuple

import torch

STUDENT_PREFIXES = ('backbone.', 'neck.', 'head.')
TOKEN_KEY = 'backbone.extra_tokens'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Extract the plain student checkpoint (backbone, head, knowledge token) from a checkpoint of a '
        'KnowledgeTokenDistiller run; testing and inference then need no teacher.')
    parser.add_argument('checkpoint', help='checkpoint of the distillation run (e.g. work_dirs/RUN/epoch_210.pth)')
    parser.add_argument('out', help='where to write the student checkpoint (.pth)')
    parser.add_argument('--config', help='plain student config (path, or a config file name from the package '
                        'configs/) whose model must load the result strictly; checked before anything is written')
    return parser.parse_args(argv)


def extract_student(state_dict: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """The student's part of a distiller state dict, and the keys left out."""
    from vitpose_mm.checkpoints import strip_module_prefix
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
    errors say what does not fit and the fix)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    from vitpose_mm.utils import find_config
    cfg = Config.fromfile(find_config(config))
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model_cfg = cfg.model
    if model_cfg.get('type') == 'KnowledgeTokenDistiller':
        raise ValueError(f'{config} is a distillation config; give the plain student config (e.g. a *-kt config)')
    from vitpose_mm.checkpoints import CheckpointMismatchError, load_state_dict
    model = MODELS.build(model_cfg)
    try:
        load_state_dict(model, student, 'the extracted student', config=config)
    except CheckpointMismatchError as e:
        raise ValueError(f'the extracted student does not load into the model of {config}: {e}') from e


def main(argv=None) -> int:
    args = parse_args(argv)
    import vitpose_mm  # noqa: F401  (registers the modules; lets weights_only read mmengine checkpoints)
    from vitpose_mm.checkpoints import load_file, state_dict_of
    try:
        ckpt = load_file(args.checkpoint)
        student, dropped = extract_student(state_dict_of(ckpt, args.checkpoint))
        if args.config:
            check_loads(student, args.config)
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as e:
        print(f'error: {args.checkpoint}: {e}', file=sys.stderr)
        return 1
    meta = dict(ckpt.get('meta', {})) if isinstance(ckpt, dict) else {}
    meta = {k: v for k, v in meta.items() if k in ('dataset_meta', 'epoch', 'iter', 'seed', 'mmpose_version',
                                                 'vitpose_mm')}  # vitpose_mm: the recorded position grid
    meta['extracted_from'] = osp.abspath(args.checkpoint)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save(dict(state_dict=student, meta=meta), args.out)
    tokens = tuple(student[TOKEN_KEY].shape) if TOKEN_KEY in student else 'none'
    print(f'wrote {args.out}: {len(student)} tensors, {TOKEN_KEY} {tokens}; left out {dropped or "nothing"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
