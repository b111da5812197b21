"""Write the two synthetic datasets of the multi-dataset demo: COCO-17 people and other people labelled AIC-style.

Example::

    python tools/make_synthetic_multi_data.py data/synthetic_multi --num-train 200 --num-train-aic 50 --num-val 100

writes ``OUT/coco`` (``generate_synthetic_coco`` with ``--seed``; annotations/person_keypoints_{train,val}.json) and
``OUT/aic`` (other people, drawn with seed ``--seed + 1``, relabelled to AI Challenger's 14 keypoints by
``vitpose_mm.synthetic.aic``; annotations/aic_{train,val}.json; ``--num-train-aic`` training images, by
default as many as COCO's). ``--aic-domain inverted`` writes the AIC-style images colour-inverted (another visual
domain on top of the other keypoint definition; the people and labels are unchanged). See docs/vitpose_plus.md.
"""
import argparse
import json
import os.path as osp
import sys

from vitpose_mm.synthetic import generate_synthetic_coco
from vitpose_mm.synthetic import relabel_coco_to_aic


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write two synthetic pose datasets with different keypoint definitions: OUT/coco (COCO-17) and '
        'OUT/aic (other people with AI Challenger\'s 14 keypoints).')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--num-train', type=int, default=400, help='training images per dataset (default: 400)')
    parser.add_argument('--num-train-aic', type=int, default=None,
                        help='training images of the AIC-style set (default: --num-train); a smaller second dataset '
                        'is the case joint training is for')
    parser.add_argument('--num-val', type=int, default=100, help='validation images per dataset (default: 100)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the COCO set; the AIC set uses seed + 1')
    parser.add_argument('--aic-domain', choices=('same', 'inverted'), default='same',
                        help='appearance of the AIC-style images: "same" as COCO\'s (default) or colour-"inverted" '
                        '(255 - value: another visual domain, the left limbs then wear the right limbs\' hues)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        for name, seed in (('coco', args.seed), ('aic', args.seed + 1)):
            num_train = args.num_train_aic if name == 'aic' and args.num_train_aic is not None else args.num_train
            invert = name == 'aic' and args.aic_domain == 'inverted'
            result = generate_synthetic_coco(osp.join(args.out_dir, name), num_train=num_train,
                                             num_val=args.num_val, seed=seed, invert=invert)
            counts = []
            for split in ('train', 'val'):
                if name == 'aic':
                    with open(result[split]['ann_file']) as f:
                        aic = relabel_coco_to_aic(json.load(f))
                    with open(osp.join(result['root'], 'annotations', f'aic_{split}.json'), 'w') as f:
                        json.dump(aic, f)
                    counts.append(len(aic['annotations']))
                else:
                    counts.append(result[split]['num_instances'])
            print(f'{name}: {num_train} train images ({counts[0]} people), {args.num_val} val images '
                  f'({counts[1]} people), seed {seed}' + (', colour-inverted' if invert else ''))
    except (ValueError, FileExistsError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
