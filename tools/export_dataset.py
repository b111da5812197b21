"""Turn a multi-dataset ViTPose+ checkpoint into a plain single-dataset ViTPose for one of its datasets.

    python tools/export_dataset.py CONFIG CHECKPOINT OUT --dataset NAME [--plain-config PLAIN_CONFIG]
    python tools/export_dataset.py CONFIG OFFICIAL_VITPOSE_PLUS.pth OUT --dataset ap10k --official

CONFIG is the multi-dataset config the checkpoint was trained with (MultiDatasetTopdownPoseEstimator); with
``--official`` CHECKPOINT is an official ViTPose+ release (all experts and heads), loaded strictly into CONFIG (a
six-dataset config). The dataset's expert is folded into every block's ``mlp.fc2`` and its head becomes ``head``; the
result carries the dataset's ``dataset_meta`` (keypoints, skeleton, flip pairs), which ``tools/demo.py`` and
``PoseEstimator`` use. With ``--plain-config`` the result is first loaded strictly into that config's model and
nothing is written if it does not fit.
"""
import argparse
import sys


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export one dataset of a multi-dataset (ViTPose+) checkpoint as a plain ViTPose checkpoint with '
        'that dataset\'s dataset_meta.')
    parser.add_argument('config', help='the multi-dataset config (path, or a config file name from the package '
                        'configs/)')
    parser.add_argument('checkpoint', help='checkpoint of that config (or an official ViTPose+ file with --official)')
    parser.add_argument('out', help='where to write the plain checkpoint (.pth)')
    parser.add_argument('--dataset', required=True, help='the head to keep: a dataset_name of the config\'s heads '
                        '(coco, aic, mpii, ap10k, apt36k, coco_wholebody, ...; wholebody, the ViTPose+ short name, '
                        'works too)')
    parser.add_argument('--official', action='store_true', help='CHECKPOINT is an official ViTPose+ release')
    parser.add_argument('--plain-config', help='single-dataset config whose model must load the result strictly; '
                        'checked before anything is written')
    return parser.parse_args(argv)


def build(config: str, with_config: bool = False):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    from vitpose_mm.utils import find_config
    cfg = Config.fromfile(find_config(config))
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    return (MODELS.build(cfg.model), cfg) if with_config else MODELS.build(cfg.model)


def config_dataset_meta(cfg, dataset: str):
    """The metainfo the config's training data gives ``dataset`` (e.g. a dataset added by tools/finetune.py), or
    None (then mmpose's metainfo of a known dataset applies)."""
    from vitpose_mm.finetune.start import head_metas
    return head_metas(cfg).get(dataset)


def main(argv=None) -> int:
    args = parse_args(argv)
    import vitpose_mm  # noqa: F401  (registers the modules)
    from vitpose_mm.checkpoints import load_file, state_dict_of
    from vitpose_mm.checkpoints.multi_dataset import export_dataset, load_official_vitpose_plus, save_exported
    from vitpose_mm.utils import error_message
    try:
        model, cfg = build(args.config, with_config=True)
        if type(model).__name__ != 'MultiDatasetTopdownPoseEstimator':
            raise ValueError(f'{args.config} builds a {type(model).__name__}, not a MultiDatasetTopdownPoseEstimator')
        if args.official:
            load_official_vitpose_plus(model, args.checkpoint)
        else:
            model.load_state_dict(state_dict_of(load_file(args.checkpoint), args.checkpoint), strict=True)
        sd, meta, notes = export_dataset(model, args.dataset, config_dataset_meta(cfg, args.dataset))
        if args.plain_config:
            plain = build(args.plain_config)
            try:
                plain.load_state_dict(sd, strict=True)
            except RuntimeError as e:
                raise ValueError(f'the exported model does not load into {args.plain_config}: {e}') from e
        save_exported(args.out, sd, meta, dict(exported_from=args.checkpoint, dataset=args.dataset, notes=notes))
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as e:
        print(f'error: {error_message(e)}', file=sys.stderr)
        return 1
    for note in notes:
        print(note)
    print(f'wrote {args.out}: dataset {args.dataset} ({meta["num_keypoints"]} keypoints, dataset_meta '
          f'{meta["dataset_name"]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
