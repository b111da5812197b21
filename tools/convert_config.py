"""Convert an official ViTPose (mmpose 0.x / mmcv 1.x) config file into an mmpose 1.x config for this package.

    python tools/convert_config.py OFFICIAL_CONFIG.py OUT_CONFIG.py

The official file is read without running it (its ``_base_`` files are not needed). Model, data, schedule and
optimizer are converted; everything not converted is printed and listed at the top of OUT_CONFIG.py. See
docs/dropin.md.
"""
import argparse

from vitpose_mm.config_convert import convert_config_file


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description='Convert an official ViTPose (mmpose 0.x) config into an mmpose 1.x '
                                     'config for vitpose_mm (model, data, schedule, optimizer); reports what it '
                                     'dropped.')
    parser.add_argument('src', help='the official config file (Python, mmcv 1.x style)')
    parser.add_argument('dst', help='the mmpose 1.x config file to write (must not exist)')
    args = parser.parse_args(argv)
    try:
        _, dropped = convert_config_file(args.src, args.dst)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        raise SystemExit(f'error: {e}')
    print(f'[convert_config] wrote {args.dst}; not converted ({len(dropped)}):')
    for line in dropped:
        print(f'  - {line}')
    return dropped


if __name__ == '__main__':
    main()
