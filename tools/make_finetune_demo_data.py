"""Write the fine-tuning demo's dataset: synthetic people labelled with 9 upper-body keypoints (not COCO's set).

    python tools/make_finetune_demo_data.py OUT_DIR [--num-train 200] [--num-val 100] [--seed 3]

Draws people with ``generate_synthetic_coco`` (the ``make demo`` generator; pick a seed other than the demo's 0 to
get other people) and relabels them with ``vitpose_mm.finetune.synthetic.relabel_coco_to_upper_body``:
OUT_DIR/annotations/upper_body_{train,val}.json beside OUT_DIR/{train,val}/. See docs/finetune.md.
"""
import argparse
import json
import os.path as osp
import sys


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Write synthetic people labelled with 9 upper-body keypoints '
                                     '(head, neck, RightShoulder ..., pelvis) in COCO format.')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--num-train', type=int, default=200, help='training images (default: 200)')
    parser.add_argument('--num-val', type=int, default=100, help='validation images (default: 100)')
    parser.add_argument('--seed', type=int, default=3, help='seed of the drawn people (default: 3; make demo uses 0)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from vitpose_mm.synthetic import generate_synthetic_coco
    from vitpose_mm.finetune.synthetic import relabel_coco_to_upper_body
    try:
        result = generate_synthetic_coco(args.out_dir, num_train=args.num_train, num_val=args.num_val,
                                         seed=args.seed)
    except (ValueError, FileExistsError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    for split in ('train', 'val'):
        with open(result[split]['ann_file']) as f:
            data = relabel_coco_to_upper_body(json.load(f))
        out = osp.join(result['root'], 'annotations', f'upper_body_{split}.json')
        with open(out, 'w') as f:
            json.dump(data, f)
        print(f'{split}: {len(data["images"])} images, {len(data["annotations"])} people -> {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
