"""Write the plain student checkpoint of a distillation run (KnowledgeTokenDistiller, stage 2).

    python tools/extract_student.py DISTILL_CKPT OUT [--config STUDENT_CONFIG]
    mim run vitpose_mm extract_student DISTILL_CKPT OUT [--config STUDENT_CONFIG]

Keeps ``backbone.*``, ``neck.*`` and ``head.*``, with ``backbone.extra_tokens`` the knowledge token as the student
uses it (the distiller's own with equal widths; with a projection ``token_proj(knowledge_token)``, computed here: the
distiller's backbone then has no token of its own), and drops what only training needs (the stage-1 token
``knowledge_token`` and its projection ``token_proj``; a teacher is never stored). The result is tested or deployed
with a plain config, e.g. configs/distill/demo/td-hm_ViTPose-micro-kt_1xb32-12e_synthetic-128x96.py (a ViT with
``num_extra_tokens=1``), or the plain student config for heatmap-only distillation. With ``--config`` the output is
first loaded strictly into that config's model, and nothing is written if it does not fit. The extraction lives in
``vitpose_mm/checkpoints/student.py``.
"""
import argparse
import sys


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Extract the plain student checkpoint (backbone, head, knowledge token) from a checkpoint of a '
        'KnowledgeTokenDistiller run; testing and inference then need no teacher.')
    parser.add_argument('checkpoint', help='checkpoint of the distillation run (e.g. work_dirs/RUN/epoch_210.pth)')
    parser.add_argument('out', help='where to write the student checkpoint (.pth)')
    parser.add_argument('--config', help='plain student config (path, or a config file name from the package '
                        'configs/) whose model must load the result strictly; checked before anything is written')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from vitpose_mm.checkpoints.student import TOKEN_KEY, write_student
    from vitpose_mm.utils import error_message
    try:
        student, dropped = write_student(args.checkpoint, args.out, args.config)
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as e:
        print(f'error: {args.checkpoint}: {error_message(e)}', file=sys.stderr)
        return 1
    tokens = tuple(student[TOKEN_KEY].shape) if TOKEN_KEY in student else 'none'
    print(f'wrote {args.out}: {len(student)} tensors, {TOKEN_KEY} {tokens}; left out {dropped or "nothing"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
