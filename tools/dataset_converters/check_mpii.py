"""Validate an MPII-format dataset and report every problem at once.

    python tools/dataset_converters/check_mpii.py DATA_ROOT
        [--splits train val] [--ann-dir annotations] [--img-dir images]
        [--headbox annotations/mpii_gt_val.mat] [--no-images]

Reads ``DATA_ROOT/<ann-dir>/mpii_<split>.json`` for each split, every image
they name under ``DATA_ROOT/<img-dir>``, and, for the ``val`` split, the
head-box file; where that file holds the joints (``pos_gt_src``,
``jnt_missing``) it proves that entry ``i`` of the JSON is the person of its
row ``i`` (the pairing MMPose's ``MpiiDataset`` assumes). Prints one
``file:index field: severity: message`` line per problem (paths relative to
DATA_ROOT), then a summary. Exit status 1 when
there is any error; warnings and notes alone exit 0.
See ``mmhg_plugin/datasets/mpii_checks.py`` for what is checked.
"""
import argparse
import os.path as osp
import sys
from collections import Counter
from typing import List, Optional, Sequence

from mmhg_plugin.datasets.mpii_checks import (  # noqa: E402
    Problem,
    check_annotation_file,
    check_headbox_file,
    check_images,
    pairing_problems,
)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line arguments."""
    p = argparse.ArgumentParser(description='Validate MPII annotations, '
                                'images and head boxes')
    p.add_argument('data_root', help='dataset root (annotations/, images/)')
    p.add_argument('--splits', nargs='+', default=['train', 'val'],
                   help='splits to check (annotations/mpii_<split>.json)')
    p.add_argument('--ann-dir', default='annotations',
                   help='annotation folder under DATA_ROOT')
    p.add_argument('--img-dir', default='images',
                   help='image folder under DATA_ROOT')
    p.add_argument('--headbox', default='annotations/mpii_gt_val.mat',
                   help='head-box .mat file of the val split, under '
                   'DATA_ROOT ("" to skip)')
    p.add_argument('--no-images', action='store_true',
                   help='check the annotation files only')
    return p.parse_args(argv)


def check_split(root: str, split: str, args: argparse.Namespace
                ) -> List[Problem]:
    """Every problem of one split."""
    ann_path = osp.join(root, args.ann_dir, f'mpii_{split}.json')
    anns, problems = check_annotation_file(ann_path, strict=True)
    if anns is not None and not args.no_images:
        problems += check_images(ann_path, anns, osp.join(root, args.img_dir))
    if split == 'val' and args.headbox:
        headbox = osp.join(root, args.headbox)
        problems += check_headbox_file(headbox,
                                       None if anns is None else len(anns))
        if anns is not None:
            problems += pairing_problems(ann_path, anns, headbox)
    return problems


def _relative(problem: Problem, root: str) -> str:
    line = str(problem)
    prefix = osp.join(root, '')
    return line.replace(prefix, '') if prefix != osp.sep else line


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the checks, print the report; return the exit status."""
    args = parse_args(argv)
    root = osp.normpath(args.data_root)
    if not osp.isdir(root):
        print(f'error: {root} is not a directory', file=sys.stderr)
        return 1
    problems: List[Problem] = []
    for split in args.splits:
        problems += check_split(root, split, args)
    for q in problems:
        print(_relative(q, root))
    count = Counter(q.severity for q in problems)
    verdict = 'FAILED' if count['error'] else 'OK'
    print(f'{verdict}: {root}, splits {", ".join(args.splits)}: '
          f'{count["error"]} errors, {count["warning"]} warnings, '
          f'{count["note"]} notes')
    return 1 if count['error'] else 0


if __name__ == '__main__':
    sys.exit(main())
