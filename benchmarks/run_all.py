"""Run every benchmark and print one table.

    python benchmarks/run_all.py [--quick] [--json out.json] [--threads 2]
        [--only model,pipeline,codec,memory,scaling,process,gpu]

Each figure compares ours with a baseline measured in the same process,
interleaved, after warm-up (memory: one fresh process per setting); see
benchmarks/README.md for what each figure means and the last results.
``--quick`` finishes in a few minutes on a 2-core CPU (fewer repeats,
smaller batches; compile alone is left out of the model rows).
"""
import argparse
import os
import sys
import time

from mmhg_plugin.utils.quiet import silence_third_party_deprecations

silence_third_party_deprecations()  # before anything below can warn

from common import machine_info, pin_threads, table, write_json  # noqa: E402

TOPICS = ('codec', 'pipeline', 'scaling', 'memory', 'model', 'process', 'gpu')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true',
                        help='short run (a few minutes on 2 cores)')
    parser.add_argument('--json', default=None, help='write results here')
    parser.add_argument('--threads', type=int, default=2,
                        help='torch/OpenCV threads (default 2)')
    parser.add_argument('--only', default=','.join(TOPICS),
                        help=f'comma-separated subset of {TOPICS}')
    return parser.parse_args()


def _inductor_cache_warm() -> bool:
    """Whether torch.compile's on-disk cache holds earlier results (compile
    times are then those of a warm cache)."""
    import getpass
    import tempfile
    path = os.environ.get('TORCHINDUCTOR_CACHE_DIR') or os.path.join(
        tempfile.gettempdir(), f'torchinductor_{getpass.getuser()}')
    return os.path.isdir(path) and any(os.scandir(path))


def main() -> int:
    args = parse_args()
    topics = [t.strip() for t in args.only.split(',') if t.strip()]
    unknown = set(topics) - set(TOPICS)
    if unknown:
        raise SystemExit(f'unknown topics {sorted(unknown)}; '
                         f'choose from {TOPICS}')
    pin_threads(args.threads)
    import torch
    meta = machine_info(args.threads)
    meta.update(quick=args.quick, topics=topics,
                inductor_cache_warm=_inductor_cache_warm())
    print(f"machine: {meta['cpu']} (family {meta.get('cpu_family')} model "
          f"{meta.get('cpu_model')}; {', '.join(meta.get('bf16_flags', []))})"
          f", {meta['cores']} cores, torch {meta['torch']}, {args.threads} "
          f"threads, load {meta.get('load_average_1m', 0):.1f}, inductor "
          f"cache {'warm' if meta['inductor_cache_warm'] else 'cold'}",
          flush=True)
    print(f"cpu flags: {meta.get('cpu_flags', '?')}", flush=True)
    results, started = [], time.perf_counter()

    def log(msg: str) -> None:
        print(f'[{time.perf_counter() - started:6.0f} s] {msg}', flush=True)

    for topic in topics:
        log(f'{topic} ...')
        if topic == 'codec':
            import bench_codec
            results += bench_codec.run(args.quick, log)
        elif topic == 'pipeline':
            import bench_pipeline
            results += bench_pipeline.run(args.quick, log)
        elif topic == 'scaling':
            import bench_scaling
            results += bench_scaling.run(args.quick, log)
        elif topic == 'memory':
            import bench_memory
            results += bench_memory.run(args.quick, args.threads, log)
        elif topic == 'model':
            import bench_model
            results += bench_model.run(args.quick, log)
        elif topic == 'process':
            import bench_process
            results += bench_process.run(args.quick, args.threads, log)
        elif topic == 'gpu':
            if torch.cuda.is_available():
                import bench_gpu
                results += bench_gpu.run(args.quick, log)
            else:
                log('gpu: no CUDA device here: GPU rows skipped')
                meta['gpu'] = 'none: GPU rows skipped'
    meta['total_s'] = time.perf_counter() - started
    meta['load_average_1m_end'] = os.getloadavg()[0]
    print()
    print(table(results))
    print(f"\n{len(results)} figures in {meta['total_s']:.0f} s; load "
          f"{meta.get('load_average_1m', 0):.1f} at the start, "
          f"{meta['load_average_1m_end']:.1f} at the end")
    if args.json:
        write_json(args.json, results, meta)
        print(f'written to {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
