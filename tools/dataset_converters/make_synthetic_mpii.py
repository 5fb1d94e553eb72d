"""Generate the synthetic MPII-format dataset.

Example::

    python tools/dataset_converters/make_synthetic_mpii.py \
        --out data/synth_mpii --train 4000 --val 500 --seed 0 --workers 2
"""
import argparse
import time
from pathlib import Path

from mmhg_plugin.datasets.synthetic import generate_synthetic_mpii  # noqa: E402


def parse_args() -> argparse.Namespace:
    """Parse the command line.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(
        description='Write a synthetic dataset in the MPII/MMPose layout.')
    parser.add_argument(
        '--out',
        default='data/synth_mpii',
        help='output directory (MMPose data_root)')
    parser.add_argument(
        '--train', type=int, default=4000, help='number of training images')
    parser.add_argument(
        '--val', type=int, default=500, help='number of validation images')
    parser.add_argument('--seed', type=int, default=0, help='dataset seed')
    parser.add_argument(
        '--workers',
        type=int,
        default=2,
        help='worker processes (output does not depend on it)')
    parser.add_argument('--quality', type=int, default=90, help='JPEG quality')
    return parser.parse_args()


class ProgressPrinter:
    """Print progress about every ``step`` percent.

    Args:
        step (float): Percent between two lines.
    """

    def __init__(self, step: float = 10.0) -> None:
        self.step = step
        self.next_percent = step
        self.start = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        percent = 100.0 * done / max(total, 1)
        if percent + 1e-9 < self.next_percent and done != total:
            return
        while self.next_percent <= percent + 1e-9:
            self.next_percent += self.step
        elapsed = time.perf_counter() - self.start
        print(
            f'  {done}/{total} images ({percent:5.1f}%), {elapsed:7.1f} s, '
            f'{done / max(elapsed, 1e-9):6.1f} images/s',
            flush=True)


def main() -> None:
    """Generate the dataset and print a summary."""
    args = parse_args()
    out = Path(args.out)
    print(
        f'Writing {args.train} train + {args.val} val images to {out} '
        f'(seed {args.seed}, {args.workers} workers)',
        flush=True)
    start = time.perf_counter()
    info = generate_synthetic_mpii(
        out,
        args.train,
        args.val,
        seed=args.seed,
        workers=args.workers,
        jpeg_quality=args.quality,
        progress=ProgressPrinter())
    total = time.perf_counter() - start
    size = sum(f.stat().st_size for f in (out / 'images').glob('*.jpg'))
    images = args.train + args.val
    print(f'People: {info["num_train_people"]} train, '
          f'{info["num_val_people"]} val')
    print(f'Images on disk: {size / 2**20:.1f} MiB '
          f'({size / 2**20 / max(images, 1) * 1000:.1f} MiB per 1000 images)')
    print(f'Total time: {total:.1f} s ({images / max(total, 1e-9):.1f} '
          'images/s)')


if __name__ == '__main__':
    main()
