"""Print the fully merged config (bases, overrides, ``--cfg-options``).

    python tools/misc/print_config.py CONFIG [--cfg-options k=v ...]
        [--save-path merged.py]

Like MMPose's ``tools/misc/print_config.py``: the ``_base_`` files are
merged, then ``--cfg-options`` on top, and the result is printed as Python.
"""
import argparse
from pathlib import Path
from typing import List, Optional

from mmhg_plugin.utils.quiet import silence_third_party_deprecations

silence_third_party_deprecations()  # before anything below can warn

from mmengine.config import Config, DictAction  # noqa: E402

import mmhg_plugin  # noqa: E402,F401  (registers the plugin's modules)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str] | None): Arguments; None reads ``sys.argv``.

    Returns:
        argparse.Namespace: The arguments.
    """
    p = argparse.ArgumentParser(description='Print the merged config')
    p.add_argument('config', help='config file')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config entries, e.g. a.b=1')
    p.add_argument('--save-path', help='also save the merged config here '
                   '(.py, .json or .yaml)')
    return p.parse_args(argv)


def merged_config(config: str, cfg_options: Optional[dict] = None) -> Config:
    """Load ``config`` with its bases and apply ``cfg_options``.

    Args:
        config (str): Config file path.
        cfg_options (dict | None): Overrides, as from ``--cfg-options``.

    Returns:
        Config: The merged config.

    Raises:
        SystemExit: When the file does not exist.
    """
    if not Path(config).is_file():
        raise SystemExit(f'print_config: no such config file: {config}')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    cfg = merged_config(args.config, args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')
    if args.save_path:
        cfg.dump(args.save_path)
        print(f'saved to {args.save_path}')


if __name__ == '__main__':
    main()
